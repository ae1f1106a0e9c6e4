package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

func keyring(t testing.TB, b byte) *tokenstore.Keyring {
	t.Helper()
	kr, err := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{b}, tokenstore.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func rawClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newStore(t testing.TB, opts redisstore.Options, kr *tokenstore.Keyring) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(opts, kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// renewers counts lease-renewal goroutines.
func renewers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "redisstore.(*lock).renew(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// noLeakedRenewers fails t if renewal goroutines are still running a moment
// after every lock was released.
func noLeakedRenewers(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := renewers()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lease-renewal goroutines still running", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dumpAll returns every key name and value in the server's current DB.
func dumpAll(t testing.TB, c *redis.Client) [][]byte {
	t.Helper()
	ctx := ctxT(t)
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for _, k := range keys {
		blobs = append(blobs, []byte(k))
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "string":
			v, err := c.Get(ctx, k).Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			blobs = append(blobs, v)
		case "hash":
			m, err := c.HGetAll(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			for f, v := range m {
				blobs = append(blobs, []byte(f), []byte(v))
			}
		case "set":
			ms, err := c.SMembers(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				blobs = append(blobs, []byte(m))
			}
		case "stream":
			msgs, err := c.XRange(ctx, k, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				for f, v := range m.Values {
					blobs = append(blobs, []byte(f), []byte(fmt.Sprint(v)))
				}
			}
		case "none": // expired meanwhile
		default:
			t.Fatalf("unexpected Redis type %q at %s", typ, k)
		}
		// DUMP too, in case a value is held in a form the above misses.
		if d, err := c.Dump(ctx, k).Bytes(); err == nil {
			blobs = append(blobs, d)
		}
	}
	return blobs
}

func TestConformance(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	kr := keyring(t, 1)
	newPair := func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
		if err := raw.FlushAll(ctxT(t)).Err(); err != nil {
			t.Fatal(err)
		}
		// A short lease, so that locks held in the suite get renewed.
		opts := redisstore.Options{Addr: addr, LockTTL: time.Second}
		a := newStore(t, opts, kr)
		b := newStore(t, opts, kr)
		t.Cleanup(func() { noLeakedRenewers(t) })
		return a, b
	}
	// Tamper flips one bit of the sealed record in its hash.
	tamper := func(t *testing.T, k tokenstore.Key) {
		key := "fitbit:conn:" + k.Provider + ":" + k.IdentityHash
		d, err := raw.HGet(ctxT(t), key, "d").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		d[len(d)-1] ^= 1
		if err := raw.HSet(ctxT(t), key, "d", d).Err(); err != nil {
			t.Fatal(err)
		}
	}
	storetest.Run(t, newPair, storetest.Options{
		Dump:        func(t *testing.T) [][]byte { return dumpAll(t, raw) },
		LockHandoff: 2 * time.Second,
		Tamper:      tamper,
	})
	noLeakedRenewers(t)
}

// TestConformanceNewWithClient runs the suite over caller-owned clients and
// a non-default prefix with a hash tag.
func TestConformanceNewWithClient(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	kr := keyring(t, 2)
	newPair := func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
		if err := raw.FlushAll(ctxT(t)).Err(); err != nil {
			t.Fatal(err)
		}
		a, err := redisstore.NewWithClient(rawClient(t, addr), kr, "{gw}:tokens", 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := redisstore.NewWithClient(rawClient(t, addr), kr, "{gw}:tokens", 0)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	storetest.Run(t, newPair, storetest.Options{LockHandoff: 2 * time.Second})
}

// A holder whose lease ran out while it was paused cannot overwrite what the
// next holder saved: the compare-and-set is atomic in Redis, lock or no lock.
func TestCASHoldsAfterLeaseExpired(t *testing.T) {
	addr := redistest.Start(t)
	kr := keyring(t, 1)
	opts := redisstore.Options{Addr: addr, LockTTL: 200 * time.Millisecond}
	a, b, c := newStore(t, opts, kr), newStore(t, opts, kr), newStore(t, opts, kr)
	ctx := ctxT(t)

	rec := storetest.NewRecord("fitbit", "alice")
	k := tokenstore.KeyOfRecord(rec)
	if err := a.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	la, err := a.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := a.LoadConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	redisstore.PauseRenewal(la) // a stalls mid-refresh...
	time.Sleep(400 * time.Millisecond)

	// ...its lease runs out and b takes over, refreshes and saves.
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	lb, err := b.LockConnection(lctx, k)
	cancel()
	if err != nil {
		t.Fatalf("lease did not expire: %v", err)
	}
	theirs, err := b.LoadConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	theirs.RefreshToken = "refresh-from-b"
	if err := b.SaveConnection(ctx, theirs); err != nil {
		t.Fatal(err)
	}

	// a wakes up and saves the pair it got for the same version.
	mine.RefreshToken = "refresh-from-a"
	if err := a.SaveConnection(ctx, mine); !errors.Is(err, tokenstore.ErrConflict) {
		t.Fatalf("stale holder's save = %v, want ErrConflict", err)
	}
	got, err := c.LoadConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != "refresh-from-b" || got.Version != 2 {
		t.Fatalf("stored version %d does not hold the new holder's token", got.Version)
	}

	// a's late Unlock reports the lost lease and does not release b's lock.
	if err := la.Unlock(ctx); err == nil {
		t.Fatal("Unlock of an expired lease = nil, want an error")
	}
	select {
	case <-la.Lost():
	default:
		t.Fatal("Lost() not closed after Unlock found the lease gone")
	}
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if l, err := c.LockConnection(qctx, k); err == nil {
		_ = l.Unlock(ctx)
		t.Fatal("a stale Unlock released the new holder's lock")
	}
	cancel()
	if err := lb.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	noLeakedRenewers(t)
}

func TestLostWhenLockKeyDeleted(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	s := newStore(t, redisstore.Options{Addr: addr, LockTTL: 300 * time.Millisecond}, keyring(t, 1))
	ctx := ctxT(t)
	k := tokenstore.KeyOf("fitbit", "alice")
	l, err := s.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	lockKey, _ := s.LockKey(k)
	if n, err := raw.Exists(ctx, lockKey).Result(); err != nil || n != 1 {
		t.Fatalf("lock key %s: exists=%d err=%v", lockKey, n, err)
	}
	// Held past several leases, it is renewed and not lost.
	select {
	case <-l.Lost():
		t.Fatal("Lost() closed while renewals succeed")
	case <-time.After(time.Second):
	}
	if err := raw.Del(ctx, lockKey).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(2 * time.Second):
		t.Fatal("Lost() not closed after the lock key was deleted")
	}
	if renewers() != 0 {
		// The renewer returns on its own once the lock is lost.
		noLeakedRenewers(t)
	}
	if err := l.Unlock(ctx); err == nil {
		t.Fatal("Unlock of a lost lock = nil, want an error saying so")
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatalf("second Unlock = %v, want nil", err)
	}
}

func TestLostWhenServerDies(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{})
	ttl := 300 * time.Millisecond
	s := newStore(t, redisstore.Options{Addr: srv.Addr(), LockTTL: ttl, DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond}, keyring(t, 1))
	ctx := ctxT(t)
	l, err := s.LockConnection(ctx, tokenstore.KeyOf("fitbit", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	srv.Kill()
	select {
	case <-l.Lost():
		if d := time.Since(killed); d > ttl+200*time.Millisecond {
			t.Errorf("Lost() closed %s after the server died; the lease is %s", d, ttl)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Lost() not closed after the server died")
	}
	_ = l.Unlock(ctx)
	noLeakedRenewers(t)
}

func TestLockRenewedPastTTL(t *testing.T) {
	addr := redistest.Start(t)
	kr := keyring(t, 1)
	opts := redisstore.Options{Addr: addr, LockTTL: 150 * time.Millisecond}
	a, b := newStore(t, opts, kr), newStore(t, opts, kr)
	ctx := ctxT(t)
	k := tokenstore.KeyOf("fitbit", "alice")
	l, err := a.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second) // ~7 leases
	l2, err := b.LockConnection(qctx, k)
	cancel()
	if err == nil {
		_ = l2.Unlock(ctx)
		t.Fatal("a renewed lock was taken by another handle")
	}
	select {
	case <-l.Lost():
		t.Fatal("Lost() closed while held and renewed")
	default:
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	noLeakedRenewers(t)
}

func TestPasswordAuth(t *testing.T) {
	const pw = "correct-horse-battery-staple"
	addr := redistest.StartWithPassword(t, pw)
	kr := keyring(t, 1)
	ctx := ctxT(t)

	for name, opts := range map[string]redisstore.Options{
		"no password":    {Addr: addr},
		"wrong password": {Addr: addr, Password: "wrong-" + pw + "-wrong"},
		"unknown user":   {Addr: addr, Username: "mallory", Password: pw},
	} {
		s := newStore(t, opts, kr)
		err := s.Ping(ctx)
		if err == nil {
			t.Fatalf("%s: Ping = nil, want an auth error", name)
		}
		rec := storetest.NewRecord("fitbit", "alice")
		serr := s.SaveConnection(ctx, rec)
		if serr == nil {
			t.Fatalf("%s: SaveConnection = nil, want an auth error", name)
		}
		for _, e := range []error{err, serr} {
			if strings.Contains(e.Error(), pw) || strings.Contains(e.Error(), rec.RefreshToken) {
				t.Fatalf("%s: error reveals a secret: %v", name, e)
			}
		}
	}

	s := newStore(t, redisstore.Options{Addr: addr, Password: pw}, kr)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	acl := newStore(t, redisstore.Options{Addr: addr, Username: "default", Password: pw}, kr)
	rec := storetest.NewRecord("fitbit", "alice")
	if err := s.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := acl.LoadConnection(ctx, tokenstore.KeyOfRecord(rec))
	if err != nil || got.RefreshToken != rec.RefreshToken {
		t.Fatalf("load with ACL user: %v", err)
	}
}

func TestKeyPrefixIsolation(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	kr := keyring(t, 1)
	ctx := ctxT(t)
	a := newStore(t, redisstore.Options{Addr: addr, KeyPrefix: "gw-a"}, kr)
	b := newStore(t, redisstore.Options{Addr: addr, KeyPrefix: "gw-b"}, kr)
	def := newStore(t, redisstore.Options{Addr: addr}, kr)
	if def.Prefix() != "fitbit" {
		t.Fatalf("default prefix = %q", def.Prefix())
	}

	ra := storetest.NewRecord("fitbit", "alice")
	ra.Refreshing = &tokenstore.RefreshMarker{Since: time.Now(), TokenHash: "x"}
	rb := storetest.NewRecord("fitbit", "alice")
	k := tokenstore.KeyOfRecord(ra)
	if err := a.SaveConnection(ctx, ra); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadConnection(ctx, k); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("b sees a's connection: %v", err)
	}
	if err := b.SaveConnection(ctx, rb); err != nil { // version 0 in b's namespace
		t.Fatal(err)
	}
	if got, _ := a.LoadConnection(ctx, k); got == nil || got.RefreshToken != ra.RefreshToken {
		t.Fatal("a's connection changed by b's save")
	}
	if keys, _ := b.ListRefreshing(ctx); len(keys) != 0 {
		t.Fatalf("b lists a's refreshing connections: %v", keys)
	}
	if keys, _ := a.ListRefreshing(ctx); len(keys) != 1 || keys[0] != k {
		t.Fatalf("a's ListRefreshing = %v", keys)
	}

	p := storetest.NewPending("fitbit", time.Now().Add(time.Minute))
	if err := a.PutPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TakePending(ctx, p.State); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("b took a's pending: %v", err)
	}
	la, err := a.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	lb, err := b.LockConnection(qctx, k)
	cancel()
	if err != nil {
		t.Fatalf("b blocked on a's lock: %v", err)
	}
	_ = lb.Unlock(ctx)
	_ = la.Unlock(ctx)
	if err := b.DeleteConnection(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LoadConnection(ctx, k); err != nil {
		t.Fatalf("b's delete removed a's connection: %v", err)
	}

	keys, err := raw.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if !strings.HasPrefix(key, "gw-a:") && !strings.HasPrefix(key, "gw-b:") {
			t.Errorf("key %q outside the prefixes", key)
		}
		if strings.Contains(key, "alice") || strings.Contains(key, p.State) {
			t.Errorf("key %q holds a raw identity or state", key)
		}
	}

	// The key is the associated data: a value moved under another prefix
	// does not open.
	ka, _ := a.ConnectionKey(k)
	kb, _ := b.ConnectionKey(k)
	if err := raw.Copy(ctx, ka, kb, 0, true).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadConnection(ctx, k); !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("a value moved to another prefix loaded: %v", err)
	}
}

func TestCorruptValues(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	ctx := ctxT(t)
	s := newStore(t, redisstore.Options{Addr: addr}, keyring(t, 1))
	other := newStore(t, redisstore.Options{Addr: addr}, keyring(t, 9))

	setup := func(t *testing.T) (*tokenstore.Record, string) {
		rec := storetest.NewRecord("fitbit", t.Name())
		if err := s.SaveConnection(ctx, rec); err != nil {
			t.Fatal(err)
		}
		key, _ := s.ConnectionKey(tokenstore.KeyOfRecord(rec))
		return rec, key
	}
	check := func(t *testing.T, rec *tokenstore.Record, wantDecrypt bool, wantText string) {
		t.Helper()
		got, err := s.LoadConnection(ctx, tokenstore.KeyOfRecord(rec))
		if err == nil || got != nil {
			t.Fatalf("LoadConnection of a corrupt value = %v, %v; want an error", got, err)
		}
		if wantDecrypt != errors.Is(err, tokenstore.ErrDecrypt) || errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("LoadConnection error %q: errors.Is(ErrDecrypt) = %v, want %v", err, !wantDecrypt, wantDecrypt)
		}
		if !strings.Contains(err.Error(), wantText) {
			t.Fatalf("LoadConnection error %q does not say %q", err, wantText)
		}
		if strings.Contains(err.Error(), rec.RefreshToken) || strings.Contains(err.Error(), rec.AccessToken) {
			t.Fatalf("error reveals a token: %v", err)
		}
	}

	t.Run("flipped byte", func(t *testing.T) {
		rec, key := setup(t)
		d, _ := raw.HGet(ctx, key, "d").Bytes()
		d[len(d)-1] ^= 1
		raw.HSet(ctx, key, "d", d)
		check(t, rec, true, "authentication failed")
	})
	t.Run("garbage", func(t *testing.T) {
		rec, key := setup(t)
		raw.HSet(ctx, key, "d", "not a sealed value")
		check(t, rec, true, "cannot decrypt")
	})
	t.Run("empty data", func(t *testing.T) {
		rec, key := setup(t)
		raw.HSet(ctx, key, "d", "")
		check(t, rec, true, "empty")
	})
	t.Run("missing version", func(t *testing.T) {
		rec, key := setup(t)
		raw.HDel(ctx, key, "v")
		check(t, rec, true, "lacks its version")
		// The script refuses to treat it as absent.
		fresh := rec.Clone()
		fresh.Version = 0
		if err := s.SaveConnection(ctx, fresh); err == nil || errors.Is(err, tokenstore.ErrConflict) || !strings.Contains(err.Error(), "no version field") {
			t.Fatalf("save over a hash without a version = %v, want the script's error", err)
		}
	})
	t.Run("missing data", func(t *testing.T) {
		rec, key := setup(t)
		raw.HDel(ctx, key, "d")
		check(t, rec, true, "lacks its version or data")
	})
	t.Run("bad version", func(t *testing.T) {
		rec, key := setup(t)
		raw.HSet(ctx, key, "v", "one")
		check(t, rec, true, "not a positive integer")
	})
	t.Run("version mismatch", func(t *testing.T) {
		rec, key := setup(t)
		raw.HSet(ctx, key, "v", "7")
		check(t, rec, true, "does not match")
	})
	t.Run("record swapped between identities", func(t *testing.T) {
		rec, key := setup(t)
		rec2 := storetest.NewRecord("fitbit", t.Name()+"-other")
		if err := s.SaveConnection(ctx, rec2); err != nil {
			t.Fatal(err)
		}
		key2, _ := s.ConnectionKey(tokenstore.KeyOfRecord(rec2))
		d, _ := raw.HGet(ctx, key2, "d").Bytes()
		raw.HSet(ctx, key, "d", d)
		check(t, rec, true, "authentication failed")
	})
	t.Run("wrong type", func(t *testing.T) {
		rec, key := setup(t)
		raw.Del(ctx, key)
		raw.Set(ctx, key, "x", 0)
		check(t, rec, false, "WRONGTYPE")
		rec.Version = 0
		if err := s.SaveConnection(ctx, rec); err == nil || errors.Is(err, tokenstore.ErrConflict) {
			t.Fatalf("save over a string = %v, want an error", err)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		rec, key := setup(t)
		_ = key
		_, err := other.LoadConnection(ctx, tokenstore.KeyOfRecord(rec))
		if !errors.Is(err, tokenstore.ErrDecrypt) || !strings.Contains(err.Error(), "not configured") {
			t.Fatalf("load with a keyring lacking the key = %v", err)
		}
		// The instance without the key cannot overwrite the value: it cannot
		// read its version, and no other version matches.
		mine := rec.Clone()
		mine.Version = 0
		if err := other.SaveConnection(ctx, mine); !errors.Is(err, tokenstore.ErrConflict) {
			t.Fatalf("save by an instance without the key = %v, want ErrConflict", err)
		}
		if got, err := s.LoadConnection(ctx, tokenstore.KeyOfRecord(rec)); err != nil || got.RefreshToken != rec.RefreshToken {
			t.Fatalf("value changed: %v", err)
		}
	})
	t.Run("pending", func(t *testing.T) {
		p := storetest.NewPending("fitbit", time.Now().Add(time.Minute))
		if err := s.PutPending(ctx, p); err != nil {
			t.Fatal(err)
		}
		raw.Set(ctx, s.PendingKey(p.State), "garbage", time.Minute)
		_, err := s.TakePending(ctx, p.State)
		if !errors.Is(err, tokenstore.ErrDecrypt) || strings.Contains(err.Error(), p.State) {
			t.Fatalf("TakePending of a corrupt value = %v", err)
		}
		if _, err := s.TakePending(ctx, p.State); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("a corrupt pending entry was not consumed: %v", err)
		}
	})
	t.Run("refreshing set member", func(t *testing.T) {
		raw.SAdd(ctx, s.RefreshingKey(), "not-a-key", "fitbit/xyz", "Bad/"+tokenstore.IdentityHash("a"))
		keys, err := s.ListRefreshing(ctx)
		if err != nil || len(keys) != 0 {
			t.Fatalf("ListRefreshing with invalid members = %v, %v; want them skipped", keys, err)
		}
		raw.Del(ctx, s.RefreshingKey())
	})
}

func TestSaveScriptIsRetrySafe(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	ctx := ctxT(t)
	keys := []string{"t:conn:x", "t:refreshing"}
	run := func(expected, next, d, marked string) int64 {
		t.Helper()
		n, err := redisstore.SaveScript.Run(ctx, raw, keys, expected, next, d, marked, "x/y").Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if run("0", "1", "sealed-1", "1") != 1 {
		t.Fatal("create failed")
	}
	if run("0", "1", "sealed-1", "1") != 1 {
		t.Fatal("a retried (identical) write did not report success")
	}
	if run("0", "1", "sealed-other", "0") != 0 {
		t.Fatal("a different write at the same version succeeded")
	}
	if n, _ := raw.SIsMember(ctx, keys[1], "x/y").Result(); !n {
		t.Fatal("marker member missing")
	}
	if run("1", "2", "sealed-2", "0") != 1 {
		t.Fatal("update failed")
	}
	if n, _ := raw.SIsMember(ctx, keys[1], "x/y").Result(); n {
		t.Fatal("marker member not removed")
	}
	if run("1", "2", "sealed-1", "0") != 0 {
		t.Fatal("a stale write succeeded")
	}
	if v, _ := raw.HGet(ctx, keys[0], "v").Result(); v != "2" {
		t.Fatalf("v = %q", v)
	}
}

func TestPendingTTL(t *testing.T) {
	addr := redistest.Start(t)
	raw := rawClient(t, addr)
	s := newStore(t, redisstore.Options{Addr: addr}, keyring(t, 1))
	ctx := ctxT(t)
	p := storetest.NewPending("fitbit", time.Now().Add(10*time.Minute))
	if err := s.PutPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	ttl, err := raw.PTTL(ctx, s.PendingKey(p.State)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 10*time.Minute || ttl > 12*time.Minute {
		t.Fatalf("pending TTL = %s, want its 10m life plus a small margin", ttl)
	}
	if n, err := s.PurgeExpiredPending(ctx, time.Now().Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("PurgeExpiredPending = %d, %v; want 0, nil (Redis expires entries)", n, err)
	}
}

func TestNewValidates(t *testing.T) {
	kr := keyring(t, 1)
	const pw = "hunter2-secret"
	bad := map[string]redisstore.Options{
		"no address":     {Password: pw},
		"no port":        {Addr: "localhost", Password: pw},
		"bad port":       {Addr: "localhost:http", Password: pw},
		"negative db":    {Addr: "localhost:6379", DB: -1, Password: pw},
		"bad prefix":     {Addr: "localhost:6379", KeyPrefix: "a b", Password: pw},
		"trailing colon": {Addr: "localhost:6379", KeyPrefix: "fitbit:", Password: pw},
		"short lock ttl": {Addr: "localhost:6379", LockTTL: time.Millisecond, Password: pw},
		"negative pool":  {Addr: "localhost:6379", PoolSize: -1, Password: pw},
		"user, no pass":  {Addr: "localhost:6379", Username: "u"},
	}
	for name, o := range bad {
		if _, err := redisstore.New(o, kr); err == nil {
			t.Errorf("%s: New = nil error", name)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error reveals the password: %v", name, err)
		}
	}
	if _, err := redisstore.New(redisstore.Options{Addr: "localhost:6379"}, nil); err == nil {
		t.Error("New without a keyring = nil error")
	}

	// New does not need the server: nothing listens here.
	s, err := redisstore.New(redisstore.Options{Addr: "127.0.0.1:1", Password: pw, DialTimeout: 200 * time.Millisecond}, kr)
	if err != nil {
		t.Fatalf("New with an unreachable address: %v", err)
	}
	defer s.Close()
	if s.LockTTL() != redisstore.DefaultLockTTL || s.Prefix() != redisstore.DefaultKeyPrefix {
		t.Fatalf("defaults: ttl %s prefix %q", s.LockTTL(), s.Prefix())
	}
	err = s.Ping(context.Background())
	if err == nil {
		t.Fatal("Ping of an unreachable server = nil")
	}
	if strings.Contains(err.Error(), pw) {
		t.Fatalf("Ping error reveals the password: %v", err)
	}
	us, err := redisstore.New(redisstore.Options{Addr: "/nonexistent/redis.sock"}, kr)
	if err != nil {
		t.Fatalf("New with a Unix socket path: %v", err)
	}
	_ = us.Close()

	// Cluster clients need a hash-tagged prefix.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cc.Close()
	if _, err := redisstore.NewWithClient(cc, kr, "fitbit", 0); err == nil {
		t.Error("cluster client with an untagged prefix accepted")
	}
	if _, err := redisstore.NewWithClient(cc, kr, "{fitbit}", 0); err != nil {
		t.Errorf("cluster client with a tagged prefix: %v", err)
	}
	if _, err := redisstore.NewWithClient(nil, kr, "", 0); err == nil {
		t.Error("NewWithClient(nil) accepted")
	}
}

// NewWithClient leaves the client open on Close; New's store closes its own.
func TestCloseOwnership(t *testing.T) {
	addr := redistest.Start(t)
	c := rawClient(t, addr)
	s, err := redisstore.NewWithClient(c, keyring(t, 1), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Close closed a caller's client: %v", err)
	}
	own, err := redisstore.New(redisstore.Options{Addr: addr}, keyring(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if err := own.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close = nil")
	}
}

// A waiter without a deadline keeps waiting past redislock's own give-up
// point (one round) until the lock is free.
func TestLockWaitsPastObtainRound(t *testing.T) {
	defer redisstore.SetObtainRound(100 * time.Millisecond)()
	addr := redistest.Start(t)
	kr := keyring(t, 1)
	a, b := newStore(t, redisstore.Options{Addr: addr}, kr), newStore(t, redisstore.Options{Addr: addr}, kr)
	ctx, cancel := context.WithCancel(context.Background()) // no deadline
	defer cancel()
	k := tokenstore.KeyOf("fitbit", "alice")
	la, err := a.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		l   tokenstore.Lock
		err error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := b.LockConnection(ctx, k)
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		t.Fatalf("waiter returned while the lock was held: %v", r.err)
	case <-time.After(500 * time.Millisecond): // five rounds
	}
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		_ = r.l.Unlock(ctx)
	case <-time.After(2 * time.Second):
		t.Fatal("waiter did not get the released lock")
	}
	noLeakedRenewers(t)
}
