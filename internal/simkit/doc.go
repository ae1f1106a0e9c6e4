// Package simkit holds the plumbing that the API simulators
// (internal/fitbitsim and internal/googlesim) share: what every simulated
// Server has (Site: client credentials, the OAuth endpoints routed by exact
// path, serving on loopback, consent, the request and issued-secret logs),
// recovering from handler panics, recording requests, the authorization
// request's checks that are the same everywhere, PKCE, random
// secrets, bearer tokens, redirects, JSON answers, the echo endpoint's
// body, fixed rate-limit windows and deterministic test data.
//
// Only what means the same for every simulated provider lives here. Error
// formats, scopes, token formats and every other provider-specific answer
// stay in the simulators.
package simkit
