// Package googlesim is a simulated Google Health API (the successor of the
// Fitbit Web API) with Google's OAuth 2.0 endpoints: a real HTTP server on
// loopback that tests and the demo talk to instead of accounts.google.com,
// oauth2.googleapis.com and health.googleapis.com. It is the sibling of
// package fitbitsim and follows Google's public documentation: the Google
// Health API (https://developers.google.com/health) and Google's OAuth 2.0
// for web server apps
// (https://developers.google.com/identity/protocols/oauth2/web-server),
// with OAuth 2.0 (RFC 6749), PKCE (RFC 7636) and revocation (RFC 7009).
// Where those are silent the simulator says what it ASSUMES below.
//
// # What it simulates
//
//   - The consent screen, GET /o/oauth2/v2/auth: client_id, exact
//     redirect_uri match (any absolute http(s) URL when none is
//     registered), response_type=code, scope (space-separated
//     https://www.googleapis.com/auth/googlehealth.<area>.readonly or
//     .writeonly for the areas in Areas, plus the sign-in scopes openid,
//     email, profile, which are carried through but allow nothing on the
//     API), state, PKCE (optional; S256 or plain, a challenge without a
//     method is plain as RFC 7636 says; verified when sent), access_type,
//     prompt (none, consent, select_account) and include_granted_scopes
//     (merges the user's earlier grant into the new code). Consent is a
//     function (Config.Consent, Server.SetConsent) that may grant a subset
//     (granular consent) or deny. Success redirects to
//     redirect_uri?state=…&code=4/0A…&scope=…&authuser=0&prompt=consent
//     (state first, spaces as %20, no "#_=_" fragment: that is Fitbit's).
//     Denial redirects with error=access_denied (and state); prompt=none
//     without a covering grant redirects with error=consent_required. Every
//     other problem (client, redirect_uri, response_type, scope, PKCE
//     parameters, access_type, prompt) is shown on a 400 text page, never
//     redirected, as Google does.
//   - Refresh-token eligibility, decided at the consent screen as Google
//     does: the code's exchange returns a refresh_token only with
//     access_type=offline, and then only if prompt=consent was sent or the
//     user holds no live refresh token for the client yet (a first
//     consent). AuthRequests records every consent-screen request with
//     this decision; Stats.OfflineAuthorizations and
//     Stats.ExchangesWithoutRefreshToken count it.
//   - The token endpoint, POST /token, form body (or a JSON object of
//     strings, which Google also accepts; the query string is ignored):
//     client_id + client_secret in the body or HTTP Basic (both may be sent
//     if they agree). authorization_code: single-use codes valid 10
//     minutes, redirect_uri required and exactly equal, code_verifier
//     required and checked when a challenge was sent; a code presented with
//     a wrong redirect_uri or verifier is spent. refresh_token: a new
//     access token with the refresh token's scopes and, unless
//     Config.RotateRefreshTokens, no refresh_token field (the old one stays
//     valid). With rotation the answer carries a new refresh token and the
//     old one is dead at once (no grace). Success bodies are
//     {"access_token":"ya29.a0…","expires_in":3599,"refresh_token":"1//0…",
//     "scope":"<granted, sorted, space-separated>","token_type":"Bearer"}
//     (expires_in is the lifetime minus one second, as Google answers; no
//     id_token). Errors are RFC 6749 JSON and never contain a token or
//     code: invalid_grant "Token has been expired or revoked." (refresh),
//     invalid_grant "Bad Request" / "Malformed auth code." / "Missing code
//     verifier." / "Invalid code verifier." (codes), redirect_uri_mismatch
//     "Bad Request", 401 invalid_client "The OAuth client was not found."
//     (unknown client_id) or "Unauthorized" (bad or missing secret), 400
//     invalid_request (missing parameters, including "Could not determine
//     client ID from request."), unsupported_grant_type.
//   - Google's refresh-token life: several refresh tokens live at once (one
//     per offline consent), at most MaxRefreshTokensPerUser per user (the
//     oldest dies), a token unused for RefreshTokenIdleLimit (6 months by
//     the clock) dies, and Config.RefreshTokenLifetime (e.g. 7 days for a
//     consent screen in "Testing") limits them and adds
//     refresh_token_expires_in to the answers.
//   - POST /revoke with token=<access or refresh token> (body or query, no
//     client authentication): revokes the user's whole grant (all access
//     tokens, refresh tokens and unexchanged codes; the next consent counts
//     as a first one) and answers 200 {}; an unknown, expired or already
//     revoked token gets 400 {"error":"invalid_token","error_description":
//     "Token expired or revoked"}.
//   - The API under /v4/ with Authorization: Bearer, in google.rpc.Status
//     errors ({"error":{"code","message","status","details"}}):
//     401 UNAUTHENTICATED for a missing (reason CREDENTIALS_MISSING, message
//     "Request is missing required authentication credential…",
//     WWW-Authenticate: Bearer realm="https://accounts.google.com/"),
//     unknown or revoked (ACCESS_TOKEN_TYPE_UNSUPPORTED) or expired
//     (ACCESS_TOKEN_EXPIRED) token (message MsgUnauthenticated,
//     WWW-Authenticate with error="invalid_token"); 403 PERMISSION_DENIED
//     with reason ACCESS_TOKEN_SCOPE_INSUFFICIENT (and WWW-Authenticate
//     error="insufficient_scope") when the token lacks the area's .readonly
//     scope, or without details for another user's path; 429
//     RESOURCE_EXHAUSTED (reason RATE_LIMIT_EXCEEDED) with Retry-After
//     (seconds to the next clock minute) past Config.RateLimitPerMinute
//     (300) authenticated requests per user per minute; 404 NOT_FOUND
//     "Method not found." for unknown paths and methods, before
//     authentication, as Google's front end does; 400 INVALID_ARGUMENT for
//     bad parameters, bodies and data types. No rate-limit headers are
//     sent (Google documents none).
//   - Endpoints (the user is "me" or the caller's own healthUserId):
//     GET users/me/identity (any Health scope, read or write;
//     {"name":"users/me/identity","healthUserId":…,"legacyUserId":…}, the
//     legacy id from Config.LegacyUserIDs, omitted when unknown);
//     GET users/me/profile (profile.readonly) and users/me/settings
//     (settings.readonly) with the fields, JSON types and enum values of
//     Google's discovery document (health/v4/health-api.json, checked by
//     conformance_test.go with the generated client
//     google.golang.org/api/health/v4), plausible values;
//     GET users/me/dataTypes/{type}/dataPoints (the area's .readonly; list,
//     newest first, pageSize/page_size (default 25, at most 10000, 25 for
//     sleep and exercise), pageToken/page_token (opaque, bound to the data
//     type and filter), filter: a conjunction (AND) of comparisons
//     field OP "time|date"; field names are not checked, a field naming
//     "end" compares the end time, others the start or sample time);
//     POST users/me/dataTypes/{type}/dataPoints:dailyRollUp (the area's
//     .readonly; body {"range":{"start":{"date":{…}},"end":{…}},
//     "windowSizeDays":1}, closed-open civil days of the person's zone,
//     unknown fields rejected, at most 90 days (14 for heart-rate,
//     active-minutes, total-calories and calories-in-heart-rate-zone, as
//     health-api.json caps them); one rollupDataPoints entry per window in
//     chronological order, {"civilStartTime":{"date":…},"civilEndTime":…,
//     "steps":{"countSum":"8423"}}, also distance (millimetersSum), floors
//     (countSum), altitude (gainMillimetersSum), active-energy-burned and
//     total-calories (kcalSum), active-minutes, active-zone-minutes,
//     activity-level (durations per level), heart-rate
//     (beatsPerMinuteAvg/Min/Max), time-in-heart-rate-zone and
//     calories-in-heart-rate-zone (LIGHT to PEAK: Fitbit's Out of Range,
//     Fat Burn, Cardio and Peak); a window without data (off the wrist, or
//     not begun) has no value field (rollups.go);
//     GET users/me/dataTypes/{type}/dataPoints:reconcile (as list: the
//     same filter, points and writes, page tokens bound to reconcile;
//     default page 1440, 25 for sleep and exercise; ReconciledDataPoints
//     without dataSource, dataPointName for the identifiable sleep,
//     exercise, weight and body-fat, ASSUMED for the last three);
//     POST users/me/dataTypes/{type}/dataPoints:rollUp (the same types and
//     caps; body {"range":{"startTime","endTime"},"windowSize":"3600s"},
//     RFC 3339, closed-open, windowSize at least 1s, pageSize default 1440,
//     at most 10000, pageToken bound to the other fields): windows oldest
//     first, the last cut at the range's end, none starting after the
//     clock, {"startTime","endTime","steps":{"countSum":…}} with the values
//     dailyRollUp computes for the same span (a minute counts in the window
//     it starts in);
//     GET users/me/pairedDevices (settings.readonly; pageSize default 5,
//     at most 100, pageToken bound to the method): one TRACKER per user,
//     the synthetic person's (package person, keyed like the nightly
//     measurements), with its id, deviceVersion, macAddress and
//     batteryLevel, batteryStatus (High/Medium/Low/Empty, thresholds
//     ASSUMED, the person's), lastSyncTime on the quarter hour before the
//     clock (the person's) and features;
//     POST users/me/dataTypes/{weight|body-fat}/dataPoints (create; the
//     area's .writeonly scope, else 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT
//     naming it): a DataPoint with exactly its type's field, sampleTime
//     (physicalTime not in the future, utcOffset) and weightGrams in
//     [0, 1000000] or percentage in [0, 100], unknown fields rejected, an
//     optional client id (4-63 of a-z, 0-9, "-"; 409 ALREADY_EXISTS when
//     taken); answered with a done Operation whose response is the
//     DataPoint (platform GOOGLE_WEB_API);
//     POST users/me/dataTypes/{weight|body-fat|-}/dataPoints:batchDelete
//     (.writeonly; {"names":[…]}, 1 to 10000, atomic: a name not found
//     fails the batch with 404 NOT_FOUND and deletes nothing; a done
//     Operation with google.protobuf.Empty). Writes are kept in memory per
//     user on top of the generated data: created points appear in later
//     lists, deleted ones (generated or created) vanish;
//     and the non-Google
//     users/me/echo (any method, any valid token) used by replay tests.
//   - Data types and scopes follow the Google Health API documentation: steps,
//     distance, floors, altitude, active-*, activity-level, exercise,
//     total-calories → activity_and_fitness; heart-rate and the other
//     heart types, weight, body-fat, height, oxygen-saturation and the
//     daily night measurements → health_metrics_and_measurements; sleep →
//     sleep; daily-vo2-max activity_and_fitness (ASSUMED).
//   - The data is the user's synthetic person (package person, keyed by
//     the legacyUserId, so the simulated Fitbit renders the same one), for
//     the last History (90 days) up to the clock; height has no horizon.
//     Each type has the grain health-api.json describes for a Fitbit
//     tracker (generate.go): steps, distance, floors, altitude,
//     active-energy-burned, active-minutes and active-zone-minutes per
//     minute (only the minutes with something counted), activity-level and
//     time-in-heart-rate-zone as runs of minutes, heart-rate every 5
//     seconds (none off the wrist), heart-rate-variability and
//     oxygen-saturation one sample a night, weight and body-fat the Aria
//     weighings, height one sample from the account's start, the daily-*
//     types per civil date (resting rate, zone bounds for the age, the
//     night's SpO2, HRV, breathing rate and skin temperature, whose
//     baseline is ASSUMED, and VO2 max with a cardioFitnessLevel from
//     fixed, ASSUMED bounds), sleep one staged session a night from the
//     30-second epochs. Every point carries the person's UTC offsets
//     (daylight saving included) and the output-only civil times; civil
//     filters and dailyRollUp's days are the person's wall clock; settings
//     give the person's timeZone and its current utcOffset. Data points name
//     their source: the person's tracker (Fitbit "Charge 6", as
//     pairedDevices lists it), the Aria scale for weighings, the app for the
//     height. int64 values are JSON strings, dates {year,month,day}
//     objects, empty results omit their fields as proto3 JSON does.
//     Roll-ups sum the same minutes the lists have, so a civil day's
//     dailyRollUp is the simulated Fitbit's day total exactly (calories as
//     millikilocalories / 1000; rollups.go records the rounding). Value
//     field names inside data points other than those the documentation
//     quotes are ASSUMED.
//
// # What it does not simulate
//
// Real Google accounts, sessions and the account chooser (consent is a
// function call), id_tokens and OpenID Connect, the implicit and device
// flows, incremental authorization beyond include_granted_scopes, refresh
// requests that narrow scopes (the scope parameter is ignored),
// writes other than create and batchDelete of weight and body fat
// (dataPoints patch, profile and settings updates), dataPoints get,
// pairedDevices get, exercise TCX export, data source families (accepted,
// not acted on), webhooks and their signatures, ACCOUNT_NOT_LINKED, quotas other than the per-user minute, 5xx
// faults, multiple clients per server and persistence across restarts.
//
// # Test controls
//
// Server.MintTokens, Server.SetConsent, Server.ExpireAccessTokens,
// Server.RevokeUser, Server.SetAccessTokenLifetime, Server.Stats,
// Server.UserStats, Server.Requests (recorded before the response is
// written, so a client that has read an answer always finds its request),
// Server.ResetRequests, Server.AuthRequests, Server.IssuedSecrets (every
// code, access token and refresh token issued), Server.Grant and
// Server.LiveRefreshTokens let tests drive and observe the simulator;
// Config.Now makes its clock controllable so tests never need to sleep.
//
// # Counting conventions
//
// Stats.APIRequests counts every request that reached the API (anything
// but the three OAuth paths), including 404s; UserStats.APIRequests counts
// those whose bearer token was known (even expired or revoked).
// Stats.InvalidGrants counts every invalid_grant answer (codes and refresh
// tokens); Stats.CodeExchangeFailures every failed authorization_code
// request; Stats.RefreshTokensIssued only refresh tokens issued by refresh
// grants (rotation). RevokeUser does not count as a revocation; the revoke
// endpoint does. Rate limits count authenticated requests only. A panic in
// the simulator is answered 500 INTERNAL instead of crashing the test.
package googlesim
