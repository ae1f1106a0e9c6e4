// Package chaos is the fault-injection suite of the gateway (its tests are
// the package): three real Caddy processes — the binary built from
// ./cmd/caddy — share one token store (the file system, then Redis) behind
// a front Caddy load balancer, in front of a strict simulated Fitbit with
// 6-second access tokens. Fifty identities are connected through the real
// browser flow, then loaded concurrently through several expiry cycles
// while instances are SIGKILLed at random moments and right after Fitbit
// processed one of their refreshes (between Fitbit's answer and the write),
// and the token endpoint injects delays, 5xx answers and connections dropped
// after the new pair was issued.
//
// It passes when every request either succeeded with the caller's own data
// or got a clear, retryable 5xx in Fitbit's error envelope; when, at the
// end, one request per identity succeeds (no connection lost, none stuck in
// needs_reauth); and when the simulator saw no refresh-token reuse, no
// invalid_grant and at most one successful refresh per connection per
// expiry. It prints its figures (run with -v to see them on success):
//
//	go test -v -run Chaos ./chaos
//
// Beside it, peers_test.go runs two instances over one store (a
// disconnect on one reaches the other's cache) and budget_test.go three
// Google-only instances against the simulated Google: 400 calls of one
// identity in a minute let exactly 300 reach Google, the rest answered
// 429 by the gateway with an accurate Retry-After, and Google's own 429
// silences the identity on every instance until its reset, over Redis and
// over the file system (go test -v -run 'Peers|Budget' ./chaos).
//
// It is skipped under -short. Redis runs need redis-server (skipped without
// it unless CI is set) and the fitbit.stores.redis module.
package chaos
