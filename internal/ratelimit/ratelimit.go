// Package ratelimit spends from per-key budgets: a key (a client IP, an
// identity, a consumer) may do Events things per Period, Burst of them at
// once, and learns how long to wait when its budget is spent. The Limiter
// interface has two implementations: Redis (GCRA in one round trip, shared
// by every instance on that Redis) and Memory (token buckets in an LRU, one
// per process).
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Limit allows Events per Period, at most Burst at once. The zero Limit (or
// any with Events or Period ≤ 0) is no limit.
type Limit struct {
	Events int
	Period time.Duration
	// Burst of 0 means Events.
	Burst int
}

// Enabled reports whether l limits anything.
func (l Limit) Enabled() bool { return l.Events > 0 && l.Period > 0 }

// burst is l.Burst, or Events when unset.
func (l Limit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Events
}

// interval is the time one event's budget takes to come back.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Events) }

func (l Limit) String() string {
	return fmt.Sprintf("%d per %s (burst %d)", l.Events, l.Period, l.burst())
}

// Decision is the answer to one Allow.
type Decision struct {
	Allowed bool
	// RetryAfter is, when not Allowed, how long until one event is
	// allowed again.
	RetryAfter time.Duration
}

// Limiter spends one event of key's budget under limit if there is one.
// Keys may hold identities: implementations that store them elsewhere
// store only a hash.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit) (Decision, error)
}

// RetryAfterHeader is d as the Retry-After header's delay-seconds (RFC 9110
// §10.2.3), rounded up so a client that waits that long is let in: at least 1.
func RetryAfterHeader(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	return strconv.FormatInt(max(s, 1), 10)
}
