package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// nextChange reads sub until it returns something (a key or an error),
// within a generous bound.
func nextChange(t *testing.T, sub tokenstore.ChangeSubscription) ([]tokenstore.Key, error) {
	t.Helper()
	ctx := ctxT(t)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		keys, err := sub.Next(ctx, 100*time.Millisecond)
		if err != nil || len(keys) > 0 {
			return keys, err
		}
	}
	t.Fatal("no change delivered within 10s")
	return nil, nil
}

// Entries a subscriber had not read yet were trimmed from the stream (it
// fell more than the cap behind), or the server lost its data: the
// subscriber reports ErrChangesMissed instead of skipping them silently,
// then goes on.
func TestChangesMissedAreReported(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	kr := keyring(t, 1)
	a := newStore(t, redisstore.Options{Addr: addr}, kr)
	b := newStore(t, redisstore.Options{Addr: addr}, kr)
	ctx := ctxT(t)
	alice, bob := tokenstore.KeyOf("fitbit", "alice"), tokenstore.KeyOf("fitbit", "bob")

	for _, tc := range []struct {
		name string
		lose func()
	}{
		{"trimmed", func() {
			if err := raw.XTrimMaxLen(ctx, a.ChangesKey(), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"flushed", func() {
			if err := raw.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := b.SubscribeChanges(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.PublishChange(ctx, alice); err != nil {
				t.Fatal(err)
			}
			tc.lose()
			if err := a.PublishChange(ctx, bob); err != nil {
				t.Fatal(err)
			}
			if keys, err := nextChange(t, sub); !errors.Is(err, tokenstore.ErrChangesMissed) {
				t.Fatalf("after losing a change: %v %v, want ErrChangesMissed", keys, err)
			}
			if err := a.PublishChange(ctx, alice); err != nil {
				t.Fatal(err)
			}
			if keys, err := nextChange(t, sub); err != nil || len(keys) != 1 || keys[0] != alice {
				t.Fatalf("after the report: %v %v", keys, err)
			}
		})
	}
}

// The stream stays near its cap however many changes are published.
func TestChangesStreamCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	a := newStore(t, redisstore.Options{Addr: addr}, keyring(t, 1))
	ctx := ctxT(t)
	k := tokenstore.KeyOf("fitbit", "alice")
	for range 12000 {
		if err := a.PublishChange(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	n, err := raw.XLen(ctx, a.ChangesKey()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n < 10000 || n > 11000 {
		t.Fatalf("the stream holds %d entries after 12000 changes; want about 10000", n)
	}
}
