// Package simkit holds the plumbing that the API simulators
// (internal/fitbitsim and internal/googlesim) share: serving a handler on
// loopback, recovering from handler panics, recording requests, PKCE,
// random secrets, bearer tokens, redirects, fixed rate-limit windows and
// deterministic test data.
//
// Only what means the same for every simulated provider lives here. Error
// formats, scopes, token formats and every other provider-specific answer
// stay in the simulators.
package simkit
