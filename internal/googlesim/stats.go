package googlesim

import (
	"sync/atomic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// Stats are the simulator's counters since it started.
type Stats struct {
	Authorizations               int64 // codes issued by the consent screen
	OfflineAuthorizations        int64 // of those, codes whose exchange returns a refresh token
	Denials                      int64 // consent denied (access_denied redirects)
	CodeExchanges                int64 // successful authorization_code grants
	ExchangesWithoutRefreshToken int64 // successful code exchanges that returned no refresh_token
	CodeExchangeFailures         int64 // failed authorization_code requests, whatever the reason
	Refreshes                    int64 // successful refresh_token grants
	RefreshTokensIssued          int64 // refresh tokens issued by refresh grants (rotation only)
	InvalidGrants                int64 // every invalid_grant answer (codes and refresh tokens)
	InvalidClients               int64 // every invalid_client answer
	Revocations                  int64 // successful revoke requests
	APIRequests                  int64 // data-API requests, whatever the answer
	API401                       int64
	API403                       int64
	API404                       int64
	API429                       int64
}

// UserStats are the counters of one user.
type UserStats struct {
	Authorizations      int64
	CodeExchanges       int64
	Refreshes           int64
	RefreshTokensIssued int64
	InvalidGrants       int64 // invalid_grant answers attributable to the user
	Revocations         int64
	APIRequests         int64 // data-API requests attributed to the user (known token)
	API401              int64 // of those, answered 401 (expired or revoked token)
	API403              int64
	API429              int64
}

type counters struct {
	authorizations, offlineAuthorizations, denials       atomic.Int64
	codeExchanges, exchangesWithoutRefreshToken          atomic.Int64
	codeExchangeFailures, refreshes, refreshTokensIssued atomic.Int64
	invalidGrants, invalidClients, revocations           atomic.Int64
	apiRequests, api401, api403, api404, api429          atomic.Int64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Authorizations:               c.authorizations.Load(),
		OfflineAuthorizations:        c.offlineAuthorizations.Load(),
		Denials:                      c.denials.Load(),
		CodeExchanges:                c.codeExchanges.Load(),
		ExchangesWithoutRefreshToken: c.exchangesWithoutRefreshToken.Load(),
		CodeExchangeFailures:         c.codeExchangeFailures.Load(),
		Refreshes:                    c.refreshes.Load(),
		RefreshTokensIssued:          c.refreshTokensIssued.Load(),
		InvalidGrants:                c.invalidGrants.Load(),
		InvalidClients:               c.invalidClients.Load(),
		Revocations:                  c.revocations.Load(),
		APIRequests:                  c.apiRequests.Load(),
		API401:                       c.api401.Load(),
		API403:                       c.api403.Load(),
		API404:                       c.api404.Load(),
		API429:                       c.api429.Load(),
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
// Body is the raw body up to MaxAPIBody, and UserID the healthUserId of a
// known token (even expired), else empty.
type RecordedRequest = simkit.RecordedRequest

// ResetRequests forgets the recorded data-API and consent-screen requests.
func (s *Server) ResetRequests() {
	s.RequestLog.Reset()
	s.auths.Reset()
}
