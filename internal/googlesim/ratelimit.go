package googlesim

import "time"

// rateStatus is the state of a user's per-minute budget.
type rateStatus struct {
	exceeded   bool
	retryAfter int // seconds until the next minute
}

// takeRate counts one authenticated request of user against the current
// clock minute. Google documents no rate-limit headers, so none are sent.
func (s *Server) takeRate(user string) rateStatus {
	now := s.now()
	minute := now.Truncate(time.Minute)
	retry := int((minute.Add(time.Minute).Sub(now) + time.Second - 1) / time.Second)
	limit := s.cfg.RateLimitPerMinute
	if limit < 0 {
		return rateStatus{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := minute.Unix(); m != s.rateMinute {
		clear(s.rate) // a new minute: every budget starts again
		s.rateMinute = m
	}
	n := s.rate[user]
	if n >= limit {
		return rateStatus{exceeded: true, retryAfter: max(retry, 1)}
	}
	s.rate[user] = n + 1
	return rateStatus{}
}
