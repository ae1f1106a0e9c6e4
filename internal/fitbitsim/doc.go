// Package fitbitsim is a simulated Fitbit Web API: a real HTTP server on
// loopback that the tests and the demo talk to instead of api.fitbit.com.
// It is the project's only stand-in for Fitbit, so it is deliberately strict
// and follows Fitbit's public documentation as closely as is known: the Web
// API reference (https://dev.fitbit.com/build/reference/web-api/), its
// authorization guide
// (https://dev.fitbit.com/build/reference/web-api/developer-guide/authorization/),
// OAuth 2.0 (RFC 6749), PKCE (RFC 7636), revocation (RFC 7009) and
// introspection (RFC 7662).
//
// # What it simulates
//
//   - The consent page, GET /oauth2/authorize: client_id, response_type=code,
//     exact redirect_uri match, scope validation, PKCE (S256 only; server apps
//     may omit it), state echo, prompt. Consent is decided by a function
//     (Config.Consent / Server.SetConsent); denial and partial grants are
//     supported. Every redirect carries Fitbit's "#_=_" fragment. Requests
//     whose redirect_uri cannot be trusted get a 400 text page, never a redirect.
//   - The token endpoint, POST /oauth2/token (form body or, as old clients do,
//     query string): client authentication by app type (Basic for server apps,
//     client_id for client and personal apps), authorization_code with
//     single-use 10-minute codes and PKCE, refresh_token with strict
//     single-use rotation, Fitbit's grace window for identical refresh
//     requests, one active refresh token per user per app, optional expires_in
//     (3600..28800). Access tokens are HS256 JWTs signed with a per-server
//     random key; refresh tokens are 64 lowercase hex characters.
//   - POST /oauth2/revoke (revokes all of the user's tokens for the app; 404
//     for an unknown token) and POST /1.1/oauth2/introspect (RFC 7662 with
//     Fitbit's "{ACTIVITY=READ_WRITE, …}" scope string; exp and iat are in
//     milliseconds, as Fitbit sends them).
//   - POST /oauth2/recover, refresh-token recovery, which Fitbit enables per
//     app through support only (Config.RecoveryEnabled, SetRecoveryEnabled).
//     Fitbit does not document its request; the simulator ASSUMES the token
//     endpoint's client authentication and a form body
//     refresh_token=<any refresh token of the user's chain, current, rotated
//     or superseded by a later code exchange> (+ optional expires_in). A
//     disabled app gets 403 insufficient_permissions "Refresh token recovery
//     is not enabled for this application." (after client authentication);
//     an unknown or revoked (RevokeUser, revoke endpoint) token gets 400
//     invalid_grant. Otherwise it rotates the user's chain with the current
//     chain's scopes and answers exactly like the token endpoint. The
//     previously current refresh token dies without a grace replay, so
//     presenting it afterwards counts as a reuse.
//   - The data endpoints that the gateway translates from the Google Health
//     API, in Fitbit's documented shapes, rendering the synthetic person of
//     internal/simkit/person that the simulated Google renders too (so the
//     two can be compared field by field): profile; daily activity summary;
//     activity time series for steps, distance, floors, elevation, calories,
//     caloriesBMR, activityCalories and the four minutes… resources (and
//     their tracker/ variants) by period and by range; activity intraday at
//     1min, 5min and 15min with /time/HH:mm/HH:mm (always 1440 wall-clock
//     minutes: the hour skipped when daylight saving time starts is listed
//     with zeros, as it did not happen; person.Minute.Skipped); heart rate by date,
//     period and range, and intraday at 1sec, 1min, 5min and 15min (no
//     points while off the wrist); sleep 1.2 by date, by range and list,
//     and sleep v1 by date (minuteData);
//     weight and body-fat logs by date, period and range, and the weight,
//     fat and bmi series (a day without a log carries the last value
//     forward); SpO2, HRV, breathing rate, skin temperature and cardio
//     fitness by date and range; devices.json; the activity log list
//     (the walks and runs the tracker detected); creating and deleting weight
//     and body-fat logs (per server, in memory); logging an activity, and a
//     non-Fitbit POST /1/user/-/echo used by replay tests. Dates are the
//     user's local days ("today" by the simulator's clock in the person's
//     time zone), and data stops at that clock: today's totals, series
//     values and heart-rate zones grow through the day, future days are
//     empty. Range caps are
//     Fitbit's documented ones (activity series 1095 days, heart 1 year,
//     sleep 100, body logs 31, the nightly summaries 30); their error
//     messages are the simulator's own. List pagination links point at
//     api.fitbit.com, as Fitbit's do.
//   - Fitbit's error envelope and messages, including the credential Fitbit
//     puts into its own messages (the gateway must scrub them).
//   - Rate limiting: 150 requests per user per app per clock hour by default,
//     Fitbit-Rate-Limit-* headers on every data response, 429 with
//     Retry-After.
//   - Units chosen by Accept-Language (en_US imperial, en_GB stone for weight,
//     otherwise metric) for heights, strides, weights, distances and
//     elevation.
//
// # What it does not simulate
//
// Real logins, sessions and cookies on the consent page (consent is a
// function call), subscriptions and
// webhooks, OAuth 1.0a, Google-style error envelopes, the implicit grant,
// scope-downgrade on refresh, multiple apps per server (one server is one
// registered app), persistence across restarts, other writes, and the data API beyond the
// endpoints above.
// Data values are plausible but synthetic.
//
// # Test controls
//
// Server.ExpireAccessTokens, Server.RevokeUser, Server.MintTokens,
// Server.SetConsent, Server.SetRecoveryEnabled, Server.Stats,
// Server.UserStats, Server.Requests, Server.RefreshLog and Server.Users let
// tests drive and observe the simulator; Config.Now makes its clock
// controllable so tests never need to sleep.
//
// Server.SetFaults and Server.FailNextRefreshes inject faults into the token
// endpoint (refresh and code grants only, decided after the form is read
// and before client authentication; introspect and recover are never
// faulted, revoke only by Server.FailNextRevokes, which forces chosen
// answers such as 410, 400 invalid_client or 503): a 5xx "system" error or a dropped connection without
// processing, a dropped connection after processing (the rotation happened,
// the grace window is open, the answer is lost), and delays between
// processing and answering that end early if the client goes away. Delays
// are real time; everything else uses Config.Now. Dropping hijacks and
// closes the connection (or aborts the handler where hijacking is
// impossible), so the client sees EOF or a reset.
//
// Server.RefreshLog records, per user and in order, every event of the
// user's chain (see the Event* constants): chain starts, rotations, grace
// replays, rejections, recoveries, revocations, forced expiries and the
// injected faults that concerned the user's token or code.
//
// # Counting conventions
//
// Stats.InvalidGrants counts every invalid_grant answer (codes and refresh
// tokens). Stats.RefreshReuseRejected additionally counts the invalid_grant
// answers given to a refresh token that was valid once and has been rotated
// (outside the grace window, or with the grace voided). Tokens that were
// revoked or superseded by a new code exchange count only as InvalidGrants.
// Stats.CodeExchangeFailures counts every failed authorization_code request,
// whatever the reason. A request answered by an injected 5xx or dropped
// before processing counts only in Stats.FaultsErrors or
// Stats.FaultsDropBefore; one dropped after processing counts as what it did
// (a refresh, a grace replay, an invalid_grant, …) and in
// Stats.FaultsDropAfterIssue; Stats.FaultsDelayed counts every request whose
// answer or drop was delayed. Recoveries count only in Stats.Recoveries (and
// UserStats.Recoveries), not as refreshes. Stats.APIRequests counts every data-API request,
// including those answered 401 or 429.
//
// An access token counts as "used" (which voids the grace window of the
// refresh that issued it) once it authenticates any data-API request or an
// introspection request as the bearer. Rotating a refresh token does not
// revoke the access tokens issued before; they live until they expire.
// A code presented with a wrong redirect_uri or code_verifier is spent.
// Rate limits count authenticated data requests only; a 401 carries the
// headers without consuming the budget.
package fitbitsim
