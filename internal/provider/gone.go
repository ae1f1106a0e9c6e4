package provider

import (
	"sync/atomic"
	"time"
)

// Gone records whether the provider has turned its API off: since
// 2026-11-02 Fitbit's Web API and OAuth endpoints answer 410 Gone. Whoever
// sees a 410 (the proxy, a revocation) marks it; any normal answer clears
// it; status pages read it. It is the provider's state, not a connection's,
// so it lives beside the client rather than in the token manager.
//
// The zero value is "not gone". Safe for concurrent use; Clear is one
// atomic load on the hot path unless the provider was gone.
type Gone struct {
	since  atomic.Int64 // unix seconds of the last 410; 0: none since the last normal answer
	notify atomic.Pointer[func(since time.Time)]
}

// Mark records a 410 Gone seen at now. It reports whether this is the first
// since the provider last answered normally, so the caller logs it once;
// then the Notify function is called too.
func (g *Gone) Mark(now time.Time) (first bool) {
	first = g.since.Swap(now.Unix()) == 0
	if f := g.notify.Load(); first && f != nil && *f != nil {
		(*f)(now)
	}
	return first
}

// Notify sets the function told of the first 410 Gone after a normal answer
// (nil for none), whoever marks it: an event for operators. It replaces the
// previous one, as a config replaces the one before.
func (g *Gone) Notify(f func(since time.Time)) { g.notify.Store(&f) }

// Clear records that the provider answered normally.
func (g *Gone) Clear() {
	if g.since.Load() != 0 {
		g.since.Store(0)
	}
}

// Since is when the provider last answered 410 Gone; zero when it has
// answered normally since, or never answered 410.
func (g *Gone) Since() time.Time {
	if s := g.since.Load(); s != 0 {
		return time.Unix(s, 0)
	}
	return time.Time{}
}
