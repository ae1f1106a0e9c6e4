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
//     generated client, splitting long ranges at Google's per-call caps and
//     counting every call against MaxGoogleCalls (checked before calling, so
//     a refused Fitbit call costs only the settings read), and builds
//     Fitbit's JSON in the user's days (the time zone from Google's settings).
//     Days Google omits (off the wrist) are 0, as Fitbit answered them.
//     Google calls per Fitbit call: profile 3; daily summary 1 + 3;
//     a time series 1 + ⌈days / cap⌉ (cap 90, or 14 for calories), plus
//     any further pages.
//
// Public references: the Fitbit Web API reference,
// https://dev.fitbit.com/build/reference/web-api/ , and the Google Health API,
// https://developers.google.com/health (its discovery document and the
// generated Go client google.golang.org/api/health/v4 are the authority on
// Google's side).
package translate
