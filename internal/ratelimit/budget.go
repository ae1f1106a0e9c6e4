package ratelimit

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fitbit's rate-limit headers, sent with every answer of its Web API
// (https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Rate-Limits).
const (
	HeaderLimit     = "Fitbit-Rate-Limit-Limit"
	HeaderRemaining = "Fitbit-Rate-Limit-Remaining"
	HeaderReset     = "Fitbit-Rate-Limit-Reset" // seconds until the window starts again
)

// Budget is one provider registration's budgets towards the provider: each
// identity's window, and the project's that every call also counts
// against. Take counts a call before it is sent; Settle learns from the
// answer: a 429 blocks the identity until the provider's reset, and a
// provider that sends Fitbit's headers corrects the count, its end and its
// limit (the provider counts; the gateway follows). A nil Budget admits
// everything.
type Budget struct {
	Windows Windows
	// PerUser is each identity's window, Project the registration's (zero:
	// none), both already this instance's share when Windows count per
	// instance.
	PerUser, Project Window
	// Cap is the operator's per-user limit (before the share), which the
	// provider's own Limit header may lower but never raise; 0: none, the
	// provider's Limit is followed once it has sent one.
	Cap int
	// Instances is how many instances share the provider's budget with
	// counts of their own (the file store); 0 or 1: Windows count for the
	// whole cluster (Redis), and the provider's headers replace the count.
	// With several, each keeps Cap/Instances, and the headers only lower
	// what is left (they count every instance's calls).
	Instances int
	// Headers: the provider sends Fitbit-Rate-Limit-* (Fitbit).
	Headers bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// OnError learns a failure of Windows (logged); the call is then let
	// through: a limiter outage must not stop every call (the store's
	// Redis: its outage answers 503 anyway).
	OnError func(error)
	// OnLimited, if set, counts each 429: the gateway's own (local) or
	// the provider's.
	OnLimited func(local bool)
	// Peers, if set, share the provider's 429s with the other instances
	// (Windows that count per process).
	Peers *PeerBlocks
	// OnBlocked, if set, learns each provider's 429: identity's calls are
	// refused until until.
	OnBlocked func(identity string, until time.Time)
}

// MaxBlock bounds how long a provider's 429 blocks an identity, whatever
// its Retry-After says: a garbled or hostile header must not shut a user
// out for years. Google's daily quotas are the longest a provider has.
const MaxBlock = 24 * time.Hour

const maxBlockSeconds = int(MaxBlock / time.Second)

// learnPeers applies a peer's block of identity to Windows, so the Grant
// has the window's limit and end like any other.
func (b *Budget) learnPeers(ctx context.Context, identity string, now time.Time) {
	if until, ok := b.Peers.until(identity, now); ok {
		if err := b.Windows.Block(ctx, identity, until, now); err != nil && b.OnError != nil {
			b.OnError(err)
		}
	}
}

func (b *Budget) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

// Take counts one call of identity, or refuses it. Refusals are counted
// by OnLimited.
func (b *Budget) Take(ctx context.Context, identity string) Grant {
	if b == nil || !b.PerUser.Enabled() {
		return Grant{Allowed: true}
	}
	now := b.now()
	b.learnPeers(ctx, identity, now)
	g, err := b.Windows.Take(ctx, identity, b.PerUser, b.Project, now)
	if err != nil {
		if b.OnError != nil {
			b.OnError(err)
		}
		return Grant{Allowed: true}
	}
	if !g.Allowed && b.OnLimited != nil {
		b.OnLimited(true)
	}
	return g
}

// Peek is identity's window as it stands, counting nothing: for the
// gateway's answers that sent no call upstream. The zero Grant (Limit 0)
// when nothing limits identity or the counters failed.
func (b *Budget) Peek(ctx context.Context, identity string) Grant {
	if b == nil || !b.PerUser.Enabled() {
		return Grant{}
	}
	now := b.now()
	b.learnPeers(ctx, identity, now)
	g, err := b.Windows.Peek(ctx, identity, b.PerUser, now)
	if err != nil {
		if b.OnError != nil {
			b.OnError(err)
		}
		return Grant{}
	}
	return g
}

// Settle learns from resp, the provider's answer to a call of identity
// taken as g.
func (b *Budget) Settle(ctx context.Context, identity string, g Grant, resp *http.Response) {
	if b == nil || !b.PerUser.Enabled() || resp == nil {
		return
	}
	if _, sent := resp.Header[HeaderLimit]; resp.StatusCode != http.StatusTooManyRequests && (!b.Headers || !sent) {
		return // nothing to learn: no clock read
	}
	now := b.now()
	var err error
	if resp.StatusCode == http.StatusTooManyRequests {
		if b.OnLimited != nil {
			b.OnLimited(false)
		}
		until := b.until(resp, g, now)
		err = errors.Join(b.Windows.Block(ctx, identity, until, now), b.Peers.announce(ctx, identity, until))
		if b.OnBlocked != nil {
			b.OnBlocked(identity, until)
		}
	} else if c, ok := b.correction(resp.Header, g, now); ok {
		err = b.Windows.Correct(ctx, identity, c, now)
	}
	if err != nil && b.OnError != nil {
		b.OnError(err)
	}
}

// until is when a 429 ends: Retry-After, else Fitbit's reset (each at
// most MaxBlock away), else the end of the window the call was counted in.
func (b *Budget) until(resp *http.Response, g Grant, now time.Time) time.Time {
	if d, ok := RetryAfter(resp.Header.Get("Retry-After"), now); ok {
		return now.Add(d)
	}
	if s, err := strconv.Atoi(resp.Header.Get(HeaderReset)); err == nil && s >= 0 && b.Headers {
		return now.Add(time.Duration(min(s, maxBlockSeconds)) * time.Second)
	}
	if !g.Reset.IsZero() {
		return g.Reset
	}
	return b.PerUser.end(now)
}

// correction is what the provider's headers say of the window g was taken
// in, when it differs from the gateway's count: in a steady state they
// agree, and no correction (no round trip) is made.
func (b *Budget) correction(h http.Header, g Grant, now time.Time) (Correction, bool) {
	if !b.Headers || g.Limit == 0 || g.Reset.IsZero() || len(h[HeaderLimit]) == 0 {
		return Correction{}, false // (Atoi of a missing header would allocate its error)
	}
	limit, err1 := strconv.Atoi(h.Get(HeaderLimit))
	remaining, err2 := strconv.Atoi(h.Get(HeaderRemaining))
	reset, err3 := strconv.Atoi(h.Get(HeaderReset))
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 || remaining < 0 || reset < 0 {
		return Correction{}, false
	}
	if b.Cap > 0 && b.Cap < limit {
		limit = b.Cap
	}
	used := g.Limit - g.Remaining // the gateway's count, this call included
	target := limit - remaining   // the provider's
	if n := max(b.Instances, 1); n > 1 {
		limit = max(limit/n, 1)
		target = max(used, limit-remaining) // what is left here ≤ what is left there
	}
	c := Correction{Taken: g.Reset, Delta: target - used}
	if limit != g.Limit {
		c.Limit = limit
	}
	// The provider's reset is in whole seconds: only a larger difference
	// is another window (its clock hour is not the gateway's). A window
	// ends within its period: a later reset is garbled or hostile.
	reset = min(reset, int(b.PerUser.Period/time.Second))
	if at := now.Add(time.Duration(reset) * time.Second); at.Sub(g.Reset).Abs() > time.Second {
		c.Reset = at
	}
	return c, c.Delta != 0 || c.Limit != 0 || !c.Reset.IsZero()
}

// RetryAfter parses a Retry-After value (RFC 9110 §10.2.3): delay-seconds
// or an HTTP-date, at most MaxBlock away.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(min(max(s, 0), maxBlockSeconds)) * time.Second, s >= 0
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxBlock), true
	}
	return 0, false
}

// SetHeaders writes g as Fitbit's rate-limit headers, for the gateway's own
// answers and the translated ones: the limit, what is left, and the
// seconds (rounded up) until the window starts again.
func SetHeaders(h http.Header, g Grant, now time.Time) {
	h[HeaderLimit] = []string{strconv.Itoa(g.Limit)}
	h[HeaderRemaining] = []string{strconv.Itoa(max(g.Remaining, 0))}
	h[HeaderReset] = []string{strconv.FormatInt(int64(math.Ceil(max(g.Reset.Sub(now), 0).Seconds())), 10)}
}
