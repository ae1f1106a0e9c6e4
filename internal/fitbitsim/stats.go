package fitbitsim

import (
	"sync/atomic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// Stats is a snapshot of the simulator's counters. See the package
// documentation for what each counter includes.
type Stats struct {
	Authorizations       int64 // codes issued by the consent page
	Denials              int64 // consent denied
	CodeExchanges        int64 // successful authorization_code grants
	CodeExchangeFailures int64 // failed authorization_code requests
	Refreshes            int64 // successful rotations
	GraceReplays         int64 // identical refreshes answered from the grace window
	RefreshReuseRejected int64 // rotated refresh tokens rejected
	InvalidGrants        int64 // every invalid_grant answer
	Revocations          int64 // successful revoke requests
	Introspections       int64 // answered introspection requests
	APIRequests          int64 // data-API requests, whatever the answer
	API401               int64
	API429               int64
	Recoveries           int64 // successful /oauth2/recover requests
	// Injected token-endpoint faults (faults.go). A faulted request that was
	// processed (DropAfterIssue, delays) also counts as whatever it did.
	FaultsErrors         int64 // 5xx answered without processing
	FaultsDropAfterIssue int64 // processed, then the connection dropped
	FaultsDropBefore     int64 // dropped without processing
	FaultsDelayed        int64 // answers (or drops) that were delayed
}

// UserStats are the counters of one user.
type UserStats struct {
	Refreshes            int64
	GraceReplays         int64
	RefreshReuseRejected int64
	APIRequests          int64 // authenticated data-API requests of this user
	Recoveries           int64
}

type counters struct {
	authorizations, denials, codeExchanges, codeExchangeFailures atomic.Int64
	refreshes, graceReplays, refreshReuseRejected, invalidGrants atomic.Int64
	revocations, introspections, apiRequests, api401, api429     atomic.Int64
	recoveries                                                   atomic.Int64
	faultsErrors, faultsDropAfterIssue, faultsDropBefore         atomic.Int64
	faultsDelayed                                                atomic.Int64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Authorizations:       c.authorizations.Load(),
		Denials:              c.denials.Load(),
		CodeExchanges:        c.codeExchanges.Load(),
		CodeExchangeFailures: c.codeExchangeFailures.Load(),
		Refreshes:            c.refreshes.Load(),
		GraceReplays:         c.graceReplays.Load(),
		RefreshReuseRejected: c.refreshReuseRejected.Load(),
		InvalidGrants:        c.invalidGrants.Load(),
		Revocations:          c.revocations.Load(),
		Introspections:       c.introspections.Load(),
		APIRequests:          c.apiRequests.Load(),
		API401:               c.api401.Load(),
		API429:               c.api429.Load(),
		Recoveries:           c.recoveries.Load(),
		FaultsErrors:         c.faultsErrors.Load(),
		FaultsDropAfterIssue: c.faultsDropAfterIssue.Load(),
		FaultsDropBefore:     c.faultsDropBefore.Load(),
		FaultsDelayed:        c.faultsDelayed.Load(),
	}
}

// UserStats returns a snapshot of one user's counters (zero if unknown).
func (s *Server) UserStats(userID string) UserStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byUser[userID]; u != nil {
		return u.stats
	}
	return UserStats{}
}

// RecordedRequest is one data-API request as the simulator received it:
// Body is the raw body up to MaxAPIBody, and UserID the authenticated
// user, empty if the token was not valid.
type RecordedRequest = simkit.RecordedRequest
