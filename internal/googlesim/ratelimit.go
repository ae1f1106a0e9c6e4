package googlesim

// rateStatus is the state of a user's per-minute budget.
type rateStatus struct {
	exceeded   bool
	retryAfter int // seconds until the next minute
}

// takeRate counts one authenticated request of user against the current
// clock minute. Google documents no rate-limit headers, so none are sent.
func (s *Server) takeRate(user string) rateStatus {
	now := s.now()
	limit := s.cfg.RateLimitPerMinute
	if limit < 0 {
		return rateStatus{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.rate.Count(now, user) // a new minute: every budget starts again
	if n >= limit {
		return rateStatus{exceeded: true, retryAfter: max(s.rate.SecondsLeft(now), 1)}
	}
	s.rate.Set(user, n+1)
	return rateStatus{}
}
