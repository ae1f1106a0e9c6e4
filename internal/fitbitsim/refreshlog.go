package fitbitsim

import (
	"net/url"
	"slices"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// RefreshEvent is one thing that happened to a user's token chain, in the
// order the simulator did it. At is the simulator's clock (Config.Now).
type RefreshEvent struct {
	At   time.Time
	Kind string // one of the Event* constants
}

// The kinds of RefreshEvent.
const (
	EventCodeExchange      = "code_exchange"       // a code exchange started a new chain
	EventMinted            = "minted"              // MintTokens started a new chain
	EventRotated           = "rotated"             // a refresh rotated the chain
	EventGrace             = "grace"               // an identical refresh was answered from the grace window
	EventReuseRejected     = "reuse_rejected"      // a rotated refresh token was refused (invalid_grant)
	EventRejected          = "rejected"            // a revoked or superseded refresh token was refused (invalid_grant)
	EventRecovered         = "recovered"           // /oauth2/recover rotated the chain
	EventDroppedAfterIssue = "dropped_after_issue" // a pair was issued (or replayed) and the answer dropped
	EventFaultError        = "fault_error"         // a 5xx was injected; nothing was processed
	EventFaultDropBefore   = "fault_drop_before"   // the connection was dropped; nothing was processed
	EventRevoked           = "revoked"             // RevokeUser or the revoke endpoint
	EventAccessExpired     = "access_expired"      // ExpireAccessTokens
)

// maxUserEvents bounds each user's log; older events are dropped first.
const maxUserEvents = 10000

// logLocked appends an event to the user's log; the caller holds s.mu.
func (s *Server) logLocked(userID, kind string, at time.Time) {
	u := s.userLocked(userID)
	if len(u.events) >= maxUserEvents {
		u.events = append(u.events[:0], u.events[1:]...)
	}
	u.events = append(u.events, RefreshEvent{At: at, Kind: kind})
}

func (s *Server) logEvent(userID, kind string) {
	now := s.now()
	s.mu.Lock()
	s.logLocked(userID, kind, now)
	s.mu.Unlock()
}

// logPresented logs an event for the user whose refresh token or code a
// token request presented, if the simulator knows it. It looks without
// touching, so an injected fault stays unprocessed.
func (s *Server) logPresented(form url.Values, kind string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	user := ""
	switch form.Get("grant_type") {
	case "refresh_token":
		if rt := s.refresh[simkit.SecretKey(form.Get("refresh_token"))]; rt != nil {
			user = rt.userID
		}
	case "authorization_code":
		if c := s.codes[simkit.SecretKey(form.Get("code"))]; c != nil {
			user = c.userID
		}
	}
	if user != "" {
		s.logLocked(user, kind, now)
	}
}

// RefreshLog returns a copy of the user's chain events (nil if none), for
// assertions such as "at most one rotation per expiry cycle" or "no
// reuse_rejected".
func (s *Server) RefreshLog(userID string) []RefreshEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byUser[userID]; u != nil && len(u.events) > 0 {
		return slices.Clone(u.events)
	}
	return nil
}

// Users returns, sorted, every user who has ever been issued tokens,
// including users whose tokens were revoked since.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, u := range s.byUser {
		if len(u.refresh) > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
