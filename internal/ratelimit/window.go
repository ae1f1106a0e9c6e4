package ratelimit

import (
	"context"
	"time"
)

// Window is a budget of Limit calls per clock-aligned Period: the shape of
// the providers' own limits, which start again at the top of the clock hour
// (Fitbit: 150 per user) or minute (Google Health: 300 per user). A token
// bucket or GCRA would let calls through as the budget trickles back, which
// the provider, counting per clock window, would then refuse. The zero
// Window (or any with Limit or Period ≤ 0) limits nothing.
type Window struct {
	Limit  int
	Period time.Duration
}

// Enabled reports whether w limits anything.
func (w Window) Enabled() bool { return w.Limit > 0 && w.Period > 0 }

// end is the end of w's window holding now: the next multiple of Period
// since the Unix epoch, so every instance agrees on it (to its clock's
// skew) and hour and minute windows turn with the UTC clock.
func (w Window) end(now time.Time) time.Time { return now.Truncate(w.Period).Add(w.Period) }

// Grant is the answer to one Take.
type Grant struct {
	Allowed bool
	// Limit is the window's limit (0: unknown, the counters failed or
	// nothing limits the key), Remaining what is left of it after this
	// call, Reset when the window starts again.
	Limit, Remaining int
	Reset            time.Time
	// RetryAfter is, when not Allowed, how long until a call is let
	// through again.
	RetryAfter time.Duration
	// Blocked: refused because the provider answered 429 (Block), not for
	// the count. Project: refused by the project-wide budget.
	Blocked, Project bool
}

// Correction is what a provider's answer says of a key's window, applied
// by Correct: the provider counts, the gateway follows.
type Correction struct {
	// Taken is the Reset of the Grant of the call answered: the delta
	// applies only to the window that call was counted in.
	Taken time.Time
	// Delta is added to the count (the provider counted Delta more calls
	// than the gateway had when it took this one; negative: fewer).
	Delta int
	// Reset, if not zero, replaces the window's end (the provider's reset).
	Reset time.Time
	// Limit, if > 0, replaces the window's limit for this key until it
	// expires (the provider's own limit, capped by the operator's).
	Limit int
}

// Windows keeps the per-key windows of one provider registration, plus one
// project-wide window every key's calls also count against. Keys are
// identities: implementations that store them elsewhere store only a hash.
// now is the caller's clock, so tests give time as data and every instance
// sharing Redis judges by its own (NTP-synchronised) clock.
type Windows interface {
	// Take counts one call of key under w and, when project is enabled,
	// one under project too, all or nothing.
	Take(ctx context.Context, key string, w, project Window, now time.Time) (Grant, error)
	// Correct applies what the provider said of key's window.
	Correct(ctx context.Context, key string, c Correction, now time.Time) error
	// Block refuses key's calls until until (an upstream 429).
	Block(ctx context.Context, key string, until, now time.Time) error
	// Peek is what Take would answer for key under w, counting nothing:
	// the state of the window for an answer that sent no call (the
	// gateway's own errors carry it, as Fitbit's answers did). Remaining
	// is what is left before the next call.
	Peek(ctx context.Context, key string, w Window, now time.Time) (Grant, error)
}

// refusedUntil is the Grant refusing a call until t.
func refusedUntil(limit int, reset, t, now time.Time) Grant {
	return Grant{Limit: limit, Reset: reset, RetryAfter: t.Sub(now)}
}
