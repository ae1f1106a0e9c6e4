package ratelimit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// FuzzSettle gives the budget any answer a provider might send: whatever
// its status and headers, nothing panics, no window's count or limit goes
// below zero, and no block or window end is further away than MaxBlock
// (plus the window itself).
func FuzzSettle(f *testing.F) {
	f.Add(200, "", "150", "10", "1180")
	f.Add(429, "600", "", "", "")
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", "150", "0", "99999999999999999999")
	f.Add(200, "", "-1", "-5", "-9")
	f.Add(429, "9223372036854775807", "1", "1", "9223372036854775807")
	f.Fuzz(func(t *testing.T, status int, retryAfter, limit, remaining, reset string) {
		ctx := context.Background()
		now := t0
		b := &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(), PerUser: ratelimit.Window{Limit: 150, Period: time.Hour},
			Headers: true, Instances: 2, Cap: 100, Now: func() time.Time { return now }}
		g := b.Take(ctx, "alice")
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": retryAfter, ratelimit.HeaderLimit: limit, ratelimit.HeaderRemaining: remaining, ratelimit.HeaderReset: reset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		b.Settle(ctx, "alice", g, &http.Response{StatusCode: status, Header: h})
		far := now.Add(ratelimit.MaxBlock + time.Hour)
		for range 3 {
			g := b.Take(ctx, "alice")
			if g.Limit < 0 || g.Remaining < 0 || g.RetryAfter < 0 || g.Reset.After(far) || now.Add(g.RetryAfter).After(far) {
				t.Fatalf("after %d %v: %+v", status, h, g)
			}
		}
	})
}
