package ratelimit

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// DefaultMemoryKeys is how many keys a Memory limiter remembers by default.
const DefaultMemoryKeys = 100_000

// Memory is a Limiter in this process's memory: a token bucket per key
// (golang.org/x/time/rate), the least recently used forgotten beyond its
// size. Each process counts alone, so N instances together allow up to N
// times a limit. A forgotten key starts with a full budget; the size bounds
// memory, not the limits, so it is far above the keys seen in a period.
type Memory struct {
	// Now is the clock; time.Now when nil. Set it before first use.
	Now func() time.Time

	mu      sync.Mutex // the LRU is locked already; this orders get-or-create
	buckets *lru.Cache[string, *rate.Limiter]
}

// NewMemory returns a Memory limiter remembering up to size keys
// (DefaultMemoryKeys when size ≤ 0).
func NewMemory(size int) *Memory {
	if size <= 0 {
		size = DefaultMemoryKeys
	}
	c, _ := lru.New[string, *rate.Limiter](size) // errs only for a size ≤ 0
	return &Memory{buckets: c}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Decision, error) {
	if !limit.Enabled() {
		return Decision{Allowed: true}, nil
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	every, burst := rate.Every(limit.interval()), limit.burst()
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets.Get(key)
	if !ok {
		b = rate.NewLimiter(every, burst) // full
		m.buckets.Add(key, b)
	} else if b.Limit() != every || b.Burst() != burst {
		// The limits changed with a config reload; the budget spent stays.
		b.SetLimitAt(now, every)
		b.SetBurstAt(now, burst)
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return Decision{RetryAfter: d}, nil
	}
	return Decision{Allowed: true}, nil
}
