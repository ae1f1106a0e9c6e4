package ratelimit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

// spendBurst checks that key gets exactly limit's burst, and returns the
// refusal that follows.
func spendBurst(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit, burst int) ratelimit.Decision {
	t.Helper()
	ctx := context.Background()
	for i := range burst {
		d, err := l.Allow(ctx, key, limit)
		if err != nil || !d.Allowed {
			t.Fatalf("event %d of the burst: %+v, %v", i+1, d, err)
		}
	}
	d, err := l.Allow(ctx, key, limit)
	if err != nil || d.Allowed {
		t.Fatalf("event %d, past the burst: %+v, %v", burst+1, d, err)
	}
	return d
}

// conformance is what every Limiter does.
func conformance(t *testing.T, l ratelimit.Limiter) {
	ctx := context.Background()
	limit := ratelimit.Limit{Events: 6, Period: time.Minute, Burst: 3}
	d := spendBurst(t, l, "ip\x00192.0.2.1", limit, 3)
	// One event comes back every 10 s; the first spent one just now.
	if d.RetryAfter <= 0 || d.RetryAfter > 10*time.Second {
		t.Errorf("RetryAfter %v, want (0, 10s]", d.RetryAfter)
	}
	// Other keys have their own budget.
	if d, err := l.Allow(ctx, "ip\x00192.0.2.2", limit); err != nil || !d.Allowed {
		t.Errorf("another key: %+v, %v", d, err)
	}
	// No limit, no refusal.
	for range 10 {
		if d, err := l.Allow(ctx, "ip\x00192.0.2.1", ratelimit.Limit{}); err != nil || !d.Allowed {
			t.Fatalf("zero limit: %+v, %v", d, err)
		}
	}
	// Burst 0 means Events.
	spendBurst(t, l, "identity\x00alice", ratelimit.Limit{Events: 4, Period: time.Hour}, 4)
}

func TestMemory(t *testing.T) {
	m := ratelimit.NewMemory(0)
	conformance(t, m)
}

func TestMemoryRefillsOnItsClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := ratelimit.NewMemory(10)
	m.Now = func() time.Time { return now }
	limit := ratelimit.Limit{Events: 6, Period: time.Minute, Burst: 3}
	d := spendBurst(t, m, "k", limit, 3)
	if !near(d.RetryAfter, 10*time.Second) {
		t.Fatalf("RetryAfter %v, want 10s", d.RetryAfter)
	}
	now = now.Add(d.RetryAfter - time.Millisecond)
	if d, _ := m.Allow(context.Background(), "k", limit); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Millisecond {
		t.Fatalf("a millisecond early: %+v", d)
	}
	now = now.Add(time.Millisecond)
	if d, _ := m.Allow(context.Background(), "k", limit); !d.Allowed {
		t.Fatalf("on time: %+v", d)
	}
	// A refusal spends nothing: the next event is 10 s away, not more.
	if d, _ := m.Allow(context.Background(), "k", limit); d.Allowed || !near(d.RetryAfter, 10*time.Second) {
		t.Fatalf("after the refill: %+v", d)
	}
	// A reload that raises the limit applies to the spent bucket at once.
	now = now.Add(30 * time.Second) // the bucket is full again
	if d := spendBurst(t, m, "k", ratelimit.Limit{Events: 60, Period: time.Minute, Burst: 3}, 3); !near(d.RetryAfter, time.Second) {
		t.Fatalf("raised limit: RetryAfter %v, want 1s", d.RetryAfter)
	}
}

// near reports whether got is want to within x/time/rate's float rounding.
func near(got, want time.Duration) bool {
	return got > want-time.Microsecond && got < want+time.Microsecond
}

func TestMemoryForgetsBeyondItsSize(t *testing.T) {
	m := ratelimit.NewMemory(2)
	limit := ratelimit.Limit{Events: 1, Period: time.Hour}
	spendBurst(t, m, "a", limit, 1)
	spendBurst(t, m, "b", limit, 1)
	spendBurst(t, m, "c", limit, 1) // a is forgotten
	spendBurst(t, m, "a", limit, 1)
}

func TestRedis(t *testing.T) {
	c := redisClients(t, redistest.Start(t), 1)[0]
	conformance(t, ratelimit.NewRedis(c, "{fitbit}:rate"))

	// Keys are hashed: no IP, identity or separator in Redis.
	checkKeys(t, c, "rate:{fitbit}:rate:")
}

// checkKeys checks that every key in c is under prefix, names no IP or
// identity, and expires.
func checkKeys(t *testing.T, c *redis.Client, prefix string) {
	t.Helper()
	keys, err := c.Keys(context.Background(), "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(k, "192.0.2") || strings.Contains(k, "alice") || !strings.HasPrefix(k, prefix) {
			t.Errorf("key %q", k)
		}
		if ttl := c.PTTL(context.Background(), k).Val(); ttl <= 0 {
			t.Errorf("key %q has no expiry (%v)", k, ttl)
		}
	}
}

// redisClients are n clients of the redis-server at addr: n instances.
func redisClients(t *testing.T, addr string, n int) []*redis.Client {
	var cs []*redis.Client
	for range n {
		c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
		t.Cleanup(func() { _ = c.Close() })
		cs = append(cs, c)
	}
	return cs
}

// Two limiters on one Redis share the budget: what instances of a cluster do.
func TestRedisIsSharedAcrossInstances(t *testing.T) {
	addr := redistest.Start(t)
	var limiters []ratelimit.Limiter
	for _, c := range redisClients(t, addr, 2) {
		limiters = append(limiters, ratelimit.NewRedis(c, "fitbit:rate"))
	}
	limit := ratelimit.Limit{Events: 2, Period: time.Hour}
	ctx := context.Background()
	for i, l := range []ratelimit.Limiter{limiters[0], limiters[1]} {
		if d, err := l.Allow(ctx, "k", limit); err != nil || !d.Allowed {
			t.Fatalf("instance %d: %+v, %v", i, d, err)
		}
	}
	for i, l := range limiters {
		if d, err := l.Allow(ctx, "k", limit); err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 30*time.Minute {
			t.Fatalf("instance %d past the shared budget: %+v, %v", i, d, err)
		}
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	srv.Kill()
	_, err := ratelimit.NewRedis(c, "p").Allow(context.Background(), "k", ratelimit.Limit{Events: 1, Period: time.Second})
	if err == nil {
		t.Fatal("no error from a dead Redis")
	}
	// The Gate admits when its limiter fails.
	g := &ratelimit.Gate{Limiter: ratelimit.NewRedis(c, "p"), Name: "browser", PerIP: ratelimit.Limit{Events: 1, Period: time.Hour}}
	for range 3 {
		if d := g.Admit(context.Background(), "192.0.2.1", ""); !d.Allowed {
			t.Fatalf("gate refused on a limiter error: %+v", d)
		}
	}
}

func TestGate(t *testing.T) {
	var nilGate *ratelimit.Gate
	if !nilGate.Admit(context.Background(), "192.0.2.1", "alice").Allowed {
		t.Fatal("a nil gate refused")
	}
	g := &ratelimit.Gate{Limiter: ratelimit.NewMemory(0), Name: "browser",
		PerIP: ratelimit.Limit{Events: 3, Period: time.Hour}, PerIdentity: ratelimit.Limit{Events: 2, Period: time.Hour}}
	ctx := context.Background()
	// alice from two IPs: her identity's budget of 2 is the bound.
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if !g.Admit(ctx, ip, "alice").Allowed {
			t.Fatalf("alice from %s refused", ip)
		}
	}
	if d := g.Admit(ctx, "192.0.2.3", "alice"); d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("alice's third: %+v", d)
	}
	// 192.0.2.1 spent one of its 3 for alice; two anonymous ones fit.
	if !g.Admit(ctx, "192.0.2.1", "").Allowed || !g.Admit(ctx, "192.0.2.1", "").Allowed {
		t.Fatal("anonymous requests from 192.0.2.1 refused early")
	}
	if g.Admit(ctx, "192.0.2.1", "").Allowed {
		t.Fatal("192.0.2.1's fourth admitted")
	}
	// Gates of other names count apart.
	other := *g
	other.Name = "oauth1_token"
	if !other.Admit(ctx, "192.0.2.1", "").Allowed {
		t.Fatal("another gate shares the budget")
	}
}

func TestRetryAfterHeader(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", 90 * time.Second: "90"} {
		if got := ratelimit.RetryAfterHeader(d); got != want {
			t.Errorf("RetryAfterHeader(%v) = %s, want %s", d, got, want)
		}
	}
}
