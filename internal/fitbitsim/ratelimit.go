package fitbitsim

import (
	"net/http"
	"strconv"
)

// rateKey identifies one rate-limit counter: per user per app per hour.
type rateKey struct {
	user, client string
}

// unlimitedHeaderLimit is what the headers say when the limit is disabled.
const unlimitedHeaderLimit = 1 << 30

// rateStatus is what the Fitbit-Rate-Limit-* headers report.
type rateStatus struct {
	limit, remaining, reset int
	exceeded                bool
}

// takeRate counts one request of user (if consume) and reports the state of
// the user's counter for the current clock hour.
func (s *Server) takeRate(user string, consume bool) rateStatus {
	now := s.now()
	reset := s.rate.SecondsLeft(now)
	limit := s.cfg.RateLimitPerHour
	unlimited := limit < 0
	if unlimited {
		limit = unlimitedHeaderLimit
	}

	s.mu.Lock()
	k := rateKey{user, s.cfg.ClientID}
	n := s.rate.Count(now, k) // a new hour: every counter starts again
	if user != "" && consume && n <= limit {
		n++
		s.rate.Set(k, n)
	}
	s.mu.Unlock()

	st := rateStatus{limit: limit, remaining: max(limit-n, 0), reset: reset}
	st.exceeded = consume && !unlimited && n > limit
	return st
}

func (st rateStatus) setHeaders(h http.Header) {
	h.Set("Fitbit-Rate-Limit-Limit", strconv.Itoa(st.limit))
	h.Set("Fitbit-Rate-Limit-Remaining", strconv.Itoa(st.remaining))
	h.Set("Fitbit-Rate-Limit-Reset", strconv.Itoa(st.reset))
}
