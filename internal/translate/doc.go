// Package translate answers Fitbit Web API v1 calls from the Google Health
// API v4, for apps written against Fitbit's API after its shutdown.
//
// The design, one idea per file:
//
//   - path.go parses a Fitbit v1 request (method, path, query) into a typed
//     Request, checking dates, periods, Fitbit's range limits and intraday
//     detail levels, so nothing downstream ever sees an unchecked string.
//     Paths the package does not translate become an *Error with errorType
//     not_available_from_successor that names the Google Health equivalent.
//   - mapping.go is the one table of what each endpoint costs in Google calls
//     and how faithful each Fitbit field is (exact, approximate within a
//     tolerance, or lost). Documentation is rendered from it, never written
//     beside it.
//   - units.go picks the unit system from Accept-Language as Fitbit did and
//     converts Google's fixed units (millimetres, grams) with Fitbit's rounding.
//   - google.go is the Engine: it makes the Google calls through the
//     generated client and builds Fitbit's JSON in the user's days (the time
//     zone from Google's settings, local times from each point's UTC
//     offset); one file per area answers its endpoints: activity.go (daily
//     summary and activity series), heart.go, sleep.go and body.go.
//   - calls.go is every Google call's one path: counted against
//     MaxGoogleCalls (checked before calling where the count is known, so a
//     refused Fitbit call costs only the settings read), long ranges split at
//     Google's per-call caps, pages followed, Google's 429, 503 and 504
//     retried a bounded number of times (Retry-After honoured, capped; the
//     wait is injectable), and Google's 403 turned into Fitbit's
//     insufficient_scope naming the Fitbit scope (errors.go).
//     Days Google omits (off the wrist) are 0 in series, as Fitbit answered
//     them; newest-first lists are re-sorted oldest first. Each endpoint's
//     cost in Google calls is Mapping.Cost, in the rendered table.
//
// Public references: the Fitbit Web API reference,
// https://dev.fitbit.com/build/reference/web-api/ , and the Google Health API,
// https://developers.google.com/health (its discovery document and the
// generated Go client google.golang.org/api/health/v4 are the authority on
// Google's side).
package translate
