package ratelimit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

// t0 is 20 seconds into a clock minute, 40 minutes into a clock hour.
var t0 = time.Date(2026, 3, 1, 10, 40, 20, 0, time.UTC)

// windowsConformance is what every Windows does; time is data.
func windowsConformance(t *testing.T, w ratelimit.Windows) {
	ctx := context.Background()
	minute := ratelimit.Window{Limit: 3, Period: time.Minute}
	for i := range 3 {
		g, err := w.Take(ctx, "alice", minute, ratelimit.Window{}, t0)
		if err != nil || !g.Allowed || g.Limit != 3 || g.Remaining != 2-i || !g.Reset.Equal(t0.Truncate(time.Minute).Add(time.Minute)) {
			t.Fatalf("call %d: %+v, %v", i+1, g, err)
		}
	}
	g, err := w.Take(ctx, "alice", minute, ratelimit.Window{}, t0.Add(time.Second))
	if err != nil || g.Allowed || g.RetryAfter != 39*time.Second || g.Blocked {
		t.Fatalf("past the limit: %+v, %v", g, err)
	}
	// Other keys count apart; the window turns with the clock minute.
	if g, _ := w.Take(ctx, "bob", minute, ratelimit.Window{}, t0); !g.Allowed {
		t.Fatalf("bob: %+v", g)
	}
	if g, _ := w.Take(ctx, "alice", minute, ratelimit.Window{}, t0.Truncate(time.Minute).Add(time.Minute)); !g.Allowed || g.Remaining != 2 {
		t.Fatalf("next minute: %+v", g)
	}

	// A block holds until its end, whatever the count.
	hour := ratelimit.Window{Limit: 150, Period: time.Hour}
	if err := w.Block(ctx, "carol", t0.Add(90*time.Second), t0); err != nil {
		t.Fatal(err)
	}
	if g, _ := w.Take(ctx, "carol", hour, ratelimit.Window{}, t0.Add(30*time.Second)); g.Allowed || !g.Blocked || g.RetryAfter != time.Minute {
		t.Fatalf("blocked: %+v", g)
	}
	if g, _ := w.Take(ctx, "carol", hour, ratelimit.Window{}, t0.Add(90*time.Second)); !g.Allowed || g.Remaining != 149 {
		t.Fatalf("after the block: %+v", g)
	}

	// A correction moves the count, the end and the limit of the window
	// the call was taken in.
	g, _ = w.Take(ctx, "dave", hour, ratelimit.Window{}, t0)
	reset := t0.Add(5 * time.Minute)
	if err := w.Correct(ctx, "dave", ratelimit.Correction{Taken: g.Reset, Delta: 98, Reset: reset, Limit: 100}, t0); err != nil {
		t.Fatal(err)
	}
	if g, _ := w.Take(ctx, "dave", hour, ratelimit.Window{}, t0); !g.Allowed || g.Limit != 100 || g.Remaining != 0 || !g.Reset.Equal(reset) {
		t.Fatalf("corrected: %+v", g)
	}
	if g, _ := w.Take(ctx, "dave", hour, ratelimit.Window{}, t0); g.Allowed || g.RetryAfter != 5*time.Minute {
		t.Fatalf("corrected, spent: %+v", g)
	}
	// A correction for another window is ignored.
	if err := w.Correct(ctx, "dave", ratelimit.Correction{Taken: g.Reset.Add(-time.Hour), Delta: -100}, t0); err != nil {
		t.Fatal(err)
	}
	if g, _ := w.Take(ctx, "dave", hour, ratelimit.Window{}, t0); g.Allowed {
		t.Fatalf("stale correction applied: %+v", g)
	}
	if g, _ := w.Peek(ctx, "dave", hour, t0); g.Limit != 100 || g.Remaining != 0 || !g.Reset.Equal(reset) {
		t.Fatalf("peek of a corrected window: %+v", g)
	}
	// At the provider's reset the window starts again with the default limit.
	if g, _ := w.Take(ctx, "dave", hour, ratelimit.Window{}, reset); !g.Allowed || g.Limit != 150 || g.Remaining != 149 {
		t.Fatalf("after the provider's reset: %+v", g)
	}

	// Peek tells the window as it stands, counting nothing.
	if g, err := w.Peek(ctx, "erin", minute, t0); err != nil || !g.Allowed || g.Limit != 3 || g.Remaining != 3 || !g.Reset.Equal(t0.Truncate(time.Minute).Add(time.Minute)) {
		t.Fatalf("peek of an unseen key: %+v, %v", g, err)
	}
	w.Take(ctx, "erin", minute, ratelimit.Window{}, t0)
	for range 2 {
		if g, _ := w.Peek(ctx, "erin", minute, t0); !g.Allowed || g.Remaining != 2 {
			t.Fatalf("peek after one call: %+v", g)
		}
	}
	for range 3 {
		w.Take(ctx, "frank", minute, ratelimit.Window{}, t0)
	}
	if g, _ := w.Peek(ctx, "frank", minute, t0.Add(time.Second)); g.Allowed || g.Remaining != 0 || g.RetryAfter != 39*time.Second {
		t.Fatalf("peek of a spent window: %+v", g)
	}
	if g, _ := w.Peek(ctx, "carol", hour, t0.Add(30*time.Second)); g.Allowed || !g.Blocked || g.RetryAfter != time.Minute {
		t.Fatalf("peek of a block: %+v", g)
	}

	// The project window: every key's calls, all or nothing.
	project := ratelimit.Window{Limit: 4, Period: time.Minute}
	for i, k := range []string{"p1", "p2", "p3", "p1"} {
		if g, err := w.Take(ctx, k, minute, project, t0); err != nil || !g.Allowed {
			t.Fatalf("project call %d: %+v, %v", i, g, err)
		}
	}
	if g, _ := w.Take(ctx, "p4", minute, project, t0); g.Allowed || !g.Project || g.RetryAfter != 40*time.Second {
		t.Fatalf("past the project budget: %+v", g)
	}
	// The refused call was not counted against p4's own window.
	if g, _ := w.Take(ctx, "p4", minute, ratelimit.Window{}, t0); !g.Allowed || g.Remaining != 2 {
		t.Fatalf("p4 after the project refusal: %+v", g)
	}
}

func TestMemoryWindows(t *testing.T) {
	windowsConformance(t, ratelimit.NewMemoryWindows())
}

func TestRedisWindows(t *testing.T) {
	c := redisClients(t, redistest.Start(t), 1)[0]
	windowsConformance(t, ratelimit.NewRedisWindows(c, "{fitbit}:budget:google_health"))
	checkKeys(t, c, "{fitbit}:budget:google_health:")
}

// Three instances on one Redis share one budget.
func TestRedisWindowsShared(t *testing.T) {
	var ws []ratelimit.Windows
	for _, c := range redisClients(t, redistest.Start(t), 3) {
		ws = append(ws, ratelimit.NewRedisWindows(c, "fitbit:budget:g"))
	}
	minute := ratelimit.Window{Limit: 300, Period: time.Minute}
	allowed := 0
	for i := range 400 {
		g, err := ws[i%3].Take(context.Background(), "alice", minute, ratelimit.Window{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if g.Allowed {
			allowed++
		}
	}
	if allowed != 300 {
		t.Fatalf("allowed %d of 400, want 300", allowed)
	}
}

func TestBudgetSettle(t *testing.T) {
	ctx := context.Background()
	now := t0
	b := &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(), PerUser: ratelimit.Window{Limit: 150, Period: time.Hour},
		Headers: true, Now: func() time.Time { return now }}
	var local, upstream int
	b.OnLimited = func(l bool) {
		if l {
			local++
		} else {
			upstream++
		}
	}
	fitbit := func(limit, remaining, reset string) *http.Response {
		return &http.Response{StatusCode: 200, Header: http.Header{ratelimit.HeaderLimit: {limit}, ratelimit.HeaderRemaining: {remaining}, ratelimit.HeaderReset: {reset}}}
	}
	// Fitbit counted 140 calls already (another gateway, a restart): 10 left.
	g := b.Take(ctx, "alice")
	b.Settle(ctx, "alice", g, fitbit("150", "10", "1180"))
	for i := range 10 {
		if g := b.Take(ctx, "alice"); !g.Allowed {
			t.Fatalf("call %d of the 10 left: %+v", i, g)
		}
	}
	if g := b.Take(ctx, "alice"); g.Allowed || g.RetryAfter != 1180*time.Second || local != 1 {
		t.Fatalf("past Fitbit's remaining: %+v", g)
	}

	// An upstream 429 blocks until its Retry-After; nothing in between.
	g = b.Take(ctx, "bob")
	b.Settle(ctx, "bob", g, &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"600"}}})
	now = now.Add(599 * time.Second)
	if g := b.Take(ctx, "bob"); g.Allowed || !g.Blocked || g.RetryAfter != time.Second || upstream != 1 {
		t.Fatalf("during the upstream's block: %+v", g)
	}
	now = now.Add(time.Second)
	if g := b.Take(ctx, "bob"); !g.Allowed {
		t.Fatalf("at the upstream's reset: %+v", g)
	}

	// With the file store and 3 instances each keeps 50, and Fitbit's
	// headers only lower what is left.
	b3 := &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(), PerUser: ratelimit.Window{Limit: 50, Period: time.Hour},
		Cap: 150, Instances: 3, Headers: true, Now: func() time.Time { return now }}
	g = b3.Take(ctx, "alice")
	b3.Settle(ctx, "alice", g, fitbit("150", "148", "1200"))
	if g := b3.Take(ctx, "alice"); g.Remaining != 48 {
		t.Fatalf("3 instances, Fitbit has more left: %+v", g)
	}
}

func TestRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{"0": 0, "120": 2 * time.Minute, t0.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		// A garbled or hostile value blocks for a day at most, and never
		// overflows into the past.
		"9223372036854775807": ratelimit.MaxBlock, t0.AddDate(10, 0, 0).Format(http.TimeFormat): ratelimit.MaxBlock} {
		if d, ok := ratelimit.RetryAfter(v, t0); !ok || d != want {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := ratelimit.RetryAfter(v, t0); ok {
			t.Errorf("RetryAfter(%q) ok", v)
		}
	}
}

// Two instances counting alone, sharing a provider's 429 through
// PeerBlocks (as the module does through the token store): the instance
// that did not receive it refuses the identity's calls once it has learnt
// the block, with the block's Retry-After, and no one else's.
func TestPeerBlocks(t *testing.T) {
	ctx := context.Background()
	now := t0
	board := map[string]time.Time{} // the store between them
	newInstance := func() *ratelimit.Budget {
		return &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(), PerUser: ratelimit.Window{Limit: 300, Period: time.Minute},
			Now: func() time.Time { return now }, Peers: &ratelimit.PeerBlocks{
				Hash: func(identity string) string { return "h:" + identity },
				Announce: func(_ context.Context, hash string, until time.Time) error {
					board[hash] = until
					return nil
				}}}
	}
	a, b := newInstance(), newInstance()
	g := a.Take(ctx, "alice")
	a.Settle(ctx, "alice", g, &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"20"}}})
	if until := board["h:alice"]; !until.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("announced %v, want 20 s from now", board)
	}
	if g := b.Take(ctx, "alice"); !g.Allowed {
		t.Fatalf("before b learnt the block: %+v", g)
	}
	b.Peers.Set(map[string]time.Time{"h:alice": board["h:alice"]})
	now = now.Add(5 * time.Second)
	for _, g := range []ratelimit.Grant{b.Peek(ctx, "alice"), b.Take(ctx, "alice")} {
		if g.Allowed || !g.Blocked || g.RetryAfter != 15*time.Second || g.Limit != 300 {
			t.Fatalf("after b learnt the block: %+v", g)
		}
	}
	if g := b.Take(ctx, "bob"); !g.Allowed {
		t.Fatalf("bob: %+v", g)
	}
	now = now.Add(15 * time.Second)
	if g := b.Take(ctx, "alice"); !g.Allowed {
		t.Fatalf("at the block's end: %+v", g)
	}
}
