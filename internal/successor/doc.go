// Package successor wires the translation (internal/translate) into the
// proxy: a Fitbit Web API v1 call is answered from the user's Google Health
// connection when Fitbit cannot answer it.
//
//   - mode.go is the choice: off, fallback (identities with no usable
//     Fitbit connection: none, provider_gone, needs_reauth) or always.
//   - server.go answers one Fitbit call from Google: it parses the call,
//     runs the Engine through the Google registration's credential-injecting
//     transport (so Google's 401 refreshes and replays as for any proxied
//     call, and no token ever reaches the engine or the app) and writes
//     Fitbit's JSON or Fitbit's error envelope.
//   - session.go carries the one Fitbit call's state through the Engine's
//     Google calls: how many went to Google, and the gateway's own refusal
//     (not connected to Google), which is passed to the app as it is.
package successor
