package redisstore_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// TestEntriesFakeClock runs the entry tests with a fake clock: entries the
// clock says have expired must read as missing while Redis still holds
// them.
func TestEntriesFakeClock(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	kr := keyring(t, 3)
	var a, b *redisstore.Store
	newPair := func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
		if err := raw.FlushAll(ctxT(t)).Err(); err != nil {
			t.Fatal(err)
		}
		a = newStore(t, redisstore.Options{Addr: addr}, kr)
		b = newStore(t, redisstore.Options{Addr: addr}, kr)
		return a, b
	}
	storetest.RunEntries(t, newPair, storetest.Options{
		Dump:   func(t *testing.T) [][]byte { return dumpAll(t, raw) },
		SetNow: func(t *testing.T, now func() time.Time) { a.Now, b.Now = now, now },
	})
}

// fakeClock is a settable clock for one store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// entryServer starts a server and returns a raw client and a store on it
// with a fake clock.
func entryServer(t *testing.T) (addr string, raw *redis.Client, s *redisstore.Store, clk *fakeClock) {
	t.Helper()
	addr = redistest.Start(t)
	s = newStore(t, redisstore.Options{Addr: addr}, keyring(t, 1))
	clk = &fakeClock{t: time.Now()}
	s.Now = clk.now
	return addr, rawClient(t, addr), s, clk
}

func TestEntryStoredForm(t *testing.T) {
	addr, raw, _, clk := entryServer(t)
	ctx := ctxT(t)
	// A prefix with a hash tag, as Redis Cluster needs.
	s, err := redisstore.NewWithClient(rawClient(t, addr), keyring(t, 1), "{gw}:tokens", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = clk.now

	key, err := s.EntryKey("nonce", "the-id")
	if err != nil {
		t.Fatal(err)
	}
	if want := "{gw}:tokens:entry:nonce:" + tokenstore.EntryIDHash("the-id"); key != want {
		t.Fatalf("EntryKey = %q, want %q", key, want)
	}
	if _, err := s.EntryKey("Bad", "x"); err == nil {
		t.Fatal("EntryKey with an invalid kind = nil error")
	}

	expires := clk.now().Add(10 * time.Minute)
	if added, err := s.AddEntry(ctx, "nonce", "the-id", []byte("secret value"), expires); err != nil || !added {
		t.Fatalf("AddEntry = %v, %v", added, err)
	}
	stored, err := raw.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if ms := binary.BigEndian.Uint64(stored); ms < uint64(expires.UnixMilli()) || ms > uint64(expires.UnixMilli())+1 {
		t.Fatalf("expiry header %d, want %d rounded up", ms, expires.UnixMilli())
	}
	if strings.Contains(string(stored), "secret value") {
		t.Fatal("the value is stored in plaintext")
	}
	ttl, err := raw.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := 10*time.Minute + redisstore.EntryMargin; ttl > want || ttl < want-5*time.Second {
		t.Fatalf("TTL = %s, want about %s", ttl, want)
	}

	if err := s.PutEntry(ctx, "token", "forever", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	fkey, _ := s.EntryKey("token", "forever")
	if ttl, err := raw.PTTL(ctx, fkey).Result(); err != nil || ttl != -1 {
		t.Fatalf("TTL of an entry that never expires = %s, %v; want none (-1)", ttl, err)
	}
	if stored, _ := raw.Get(ctx, fkey).Bytes(); binary.BigEndian.Uint64(stored) != 0 {
		t.Fatal("an entry that never expires has a non-zero expiry header")
	}
	if n, err := s.PurgeExpiredEntries(ctx, "token", clk.now().Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("PurgeExpiredEntries = %d, %v; want 0, nil (Redis expires entries)", n, err)
	}
}

// Expiry is judged by the store's clock against the header, not by Redis's
// TTL.
func TestEntryExpiryFollowsStoreClock(t *testing.T) {
	addr, raw, s, clk := entryServer(t)
	ctx := ctxT(t)
	key, _ := s.EntryKey("nonce", "n1")

	if err := s.PutEntry(ctx, "nonce", "n1", []byte("v"), clk.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute)
	if n, _ := raw.Exists(ctx, key).Result(); n != 1 {
		t.Fatal("Redis dropped the entry already; the test proves nothing")
	}
	if _, err := s.GetEntry(ctx, "nonce", "n1"); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("GetEntry of an entry expired by the store's clock = %v, want ErrNotFound", err)
	}
	if added, err := s.AddEntry(ctx, "nonce", "n1", []byte("v2"), clk.now().Add(time.Minute)); err != nil || !added {
		t.Fatalf("AddEntry over an entry expired by the store's clock = %v, %v; want true", added, err)
	}
	if v, err := s.GetEntry(ctx, "nonce", "n1"); err != nil || string(v) != "v2" {
		t.Fatalf("GetEntry after the replacing add = %q, %v", v, err)
	}

	// An instance whose clock runs behind still refuses the id.
	behind := newStore(t, redisstore.Options{Addr: addr}, keyring(t, 1))
	behind.Now = func() time.Time { return clk.now().Add(-30 * time.Second) }
	clk.advance(time.Minute + time.Second)
	if added, err := behind.AddEntry(ctx, "nonce", "n1", []byte("v3"), clk.now().Add(time.Minute)); err != nil || added {
		t.Fatalf("AddEntry on an instance 30s behind = %v, %v; want false", added, err)
	}

	// Putting an entry that has already expired deletes what was there.
	if err := s.PutEntry(ctx, "nonce", "n1", []byte("v4"), clk.now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := raw.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("PutEntry of an expired entry left a key")
	}
}

func TestEntryCorruptValues(t *testing.T) {
	addr, raw, s, clk := entryServer(t)
	ctx := ctxT(t)
	exp := clk.now().Add(time.Hour)
	if err := s.PutEntry(ctx, "token", "src", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	src, _ := s.EntryKey("token", "src")
	good, err := raw.Get(ctx, src).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		value []byte
		// addable: an expired header lets AddEntry replace the value
		// without reading it; anything else fails safe.
		addable bool
	}{
		"short":               {[]byte("abc"), false},
		"another key's":       {good, false},
		"header set to never": {withHeader(0, good[8:]), false},
		"header expired":      {withHeader(1, good[8:]), true},
	} {
		t.Run(name, func(t *testing.T) {
			key, _ := s.EntryKey("token", "dst")
			for _, op := range []string{"get", "add", "take"} {
				if err := raw.Set(ctx, key, tc.value, 0).Err(); err != nil {
					t.Fatal(err)
				}
				var err error
				switch op {
				case "get":
					_, err = s.GetEntry(ctx, "token", "dst")
				case "take":
					_, err = s.TakeEntry(ctx, "token", "dst")
					if n, _ := raw.Exists(ctx, key).Result(); n != 0 {
						t.Error("TakeEntry left a corrupt value")
					}
				case "add":
					added, aerr := s.AddEntry(ctx, "token", "dst", []byte("mine"), exp)
					if aerr != nil || added != tc.addable {
						t.Errorf("AddEntry = %v, %v; want %v", added, aerr, tc.addable)
					}
					continue
				}
				if !errors.Is(err, tokenstore.ErrDecrypt) {
					t.Errorf("%s: %v, want ErrDecrypt", op, err)
				}
			}
		})
	}
	other := newStore(t, redisstore.Options{Addr: addr}, keyring(t, 9))
	if _, err := other.GetEntry(ctx, "token", "src"); !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("GetEntry with another keyring = %v, want ErrDecrypt", err)
	}
}

// withHeader is an entry value with expiry header ms (Unix milliseconds)
// followed by rest.
func withHeader(ms uint64, rest []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, ms), rest...)
}

func TestAddEntryScriptIsRetrySafe(t *testing.T) {
	_, raw, _, _ := entryServer(t)
	ctx := ctxT(t)
	keys := []string{"t:entry:nonce:x"}
	run := func(v []byte, nowMs, ttlMs int64) int64 {
		t.Helper()
		n, err := redisstore.AddEntryScript.Run(ctx, raw, keys, v, nowMs, ttlMs).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := withHeader(2000, []byte("sealed-1"))
	if run(first, 1000, 60000) != 1 {
		t.Fatal("add to an empty key failed")
	}
	if run(first, 1000, 60000) != 1 {
		t.Fatal("a retried (identical) add did not report success")
	}
	second := withHeader(3000, []byte("sealed-2"))
	if run(second, 1999, 60000) != 0 {
		t.Fatal("an add over an unexpired entry succeeded")
	}
	if run(second, 2000, 0) != 1 {
		t.Fatal("an add over an entry expired at now failed")
	}
	if ttl, _ := raw.PTTL(ctx, keys[0]).Result(); ttl != -1 {
		t.Fatalf("TTL after an add with TTL 0 = %s, want none", ttl)
	}
	if v, _ := raw.Get(ctx, keys[0]).Bytes(); string(v) != string(second) {
		t.Fatal("the replacing add did not write its value")
	}
}
