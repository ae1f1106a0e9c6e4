package tokens

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// followInterval is the change-feed interval of these tests: short, so a
// polled feed (the Caddy storage) is read often.
const followInterval = 50 * time.Millisecond

// feedStore wraps a real store: it counts loads, and can be told to fail
// publications, to fail reads of the feed, to report lost changes once, or
// to hold a load after it has read the store.
type feedStore struct {
	tokenstore.Store
	loads       atomic.Int64
	published   atomic.Int64 // changes this handle published
	delivered   atomic.Int64 // changes its subscriptions handed out
	nexts       atomic.Int64 // calls of its subscriptions' Next
	failPublish atomic.Bool
	failFeed    atomic.Bool
	missOnce    atomic.Bool
	// holdLoad, when set, receives once a load has read the store, and the
	// load returns only when the channel is received from again.
	holdLoad atomic.Pointer[chan struct{}]
}

var errFeedDown = errors.New("feed down")

func (s *feedStore) LoadConnection(ctx context.Context, k tokenstore.Key) (*tokenstore.Record, error) {
	s.loads.Add(1)
	rec, err := s.Store.LoadConnection(ctx, k)
	if ch := s.holdLoad.Swap(nil); ch != nil {
		*ch <- struct{}{}
		<-*ch
	}
	return rec, err
}

func (s *feedStore) PublishChange(ctx context.Context, k tokenstore.Key) error {
	if s.failPublish.Load() {
		return errFeedDown
	}
	err := s.Store.PublishChange(ctx, k)
	if err == nil {
		s.published.Add(1)
	}
	return err
}

func (s *feedStore) SubscribeChanges(ctx context.Context) (tokenstore.ChangeSubscription, error) {
	if s.failFeed.Load() {
		return nil, errFeedDown
	}
	sub, err := s.Store.SubscribeChanges(ctx)
	if err != nil {
		return nil, err
	}
	return &feedSub{s: s, inner: sub}, nil
}

type feedSub struct {
	s     *feedStore
	inner tokenstore.ChangeSubscription
}

func (f *feedSub) Next(ctx context.Context, wait time.Duration) ([]tokenstore.Key, error) {
	f.s.nexts.Add(1)
	if f.s.failFeed.Load() {
		sleep(ctx, wait)
		return nil, errFeedDown
	}
	if f.s.missOnce.CompareAndSwap(true, false) {
		return nil, tokenstore.ErrChangesMissed
	}
	keys, err := f.inner.Next(ctx, wait)
	f.s.delivered.Add(int64(len(keys)))
	return keys, err
}

// peers is two instances (Managers, each on its own handle of one backing
// store, each following the feed) in front of one simulator.
type peers struct {
	sim    *fitbitsim.Server
	reg    provider.Registration
	a, b   *Manager
	sa, sb *feedStore
}

// storePairs makes two handles on one fresh backing store: two
// StorageStores over one directory, or two Redis stores over one server.
var storePairs = map[string]func(t *testing.T) (tokenstore.Store, tokenstore.Store){
	"storage": func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
		k := sha256.Sum256([]byte("tokens test key"))
		kr, _ := tokenstore.NewKeyring([][]byte{k[:]})
		dir := t.TempDir()
		return storagestore.New(&certmagic.FileStorage{Path: dir}, kr, ""),
			storagestore.New(&certmagic.FileStorage{Path: dir}, kr, "")
	},
	"redis": func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
		addr := redistest.Start(t)
		k := sha256.Sum256([]byte("tokens test key"))
		kr, _ := tokenstore.NewKeyring([][]byte{k[:]})
		open := func() tokenstore.Store {
			s, err := redisstore.New(redisstore.Options{Addr: addr}, kr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		return open(), open()
	},
}

// forEachStore runs f once per store.
func forEachStore(t *testing.T, f func(t *testing.T, newStores func(t *testing.T) (tokenstore.Store, tokenstore.Store))) {
	for _, name := range []string{"storage", "redis"} {
		t.Run(name, func(t *testing.T) { f(t, storePairs[name]) })
	}
}

// newPeers starts the simulator and two instances; cfgB adjusts B's config.
func newPeers(t *testing.T, newStores func(t *testing.T) (tokenstore.Store, tokenstore.Store), cfgB func(*Config)) *peers {
	t.Helper()
	sim, err := fitbitsim.Start(fitbitsim.Config{RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	inner1, inner2 := newStores(t)
	p := &peers{sim: sim, reg: simReg(sim, ""), sa: &feedStore{Store: inner1}, sb: &feedStore{Store: inner2}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	start := func(store *feedStore, adjust func(*Config)) *Manager {
		cfg := Config{Provider: provider.NewClient(p.reg, nil), Store: store, Context: ctx}
		if adjust != nil {
			adjust(&cfg)
		}
		m := New(cfg)
		wg.Go(func() { FollowChanges(ctx, store, followInterval, m) })
		return m
	}
	p.a, p.b = start(p.sa, nil), start(p.sb, cfgB)
	// Both follow the feed before the test publishes anything: a
	// subscription that began later would evict what B cached meanwhile.
	eventually(t, "both instances subscribe", func() bool { return p.sa.nexts.Load() > 0 && p.sb.nexts.Load() > 0 })
	return p
}

// settle waits until B has applied every change published so far: its feed
// handed them all out, and it came back for more (it applies a batch
// before it calls Next again). Only then does B's cache say what B keeps.
func (p *peers) settle(t *testing.T) {
	t.Helper()
	want := p.sa.published.Load() + p.sb.published.Load()
	eventually(t, "B receives every change", func() bool { return p.sb.delivered.Load() >= want })
	n := p.sb.nexts.Load()
	eventually(t, "B applies them", func() bool { return p.sb.nexts.Load() > n })
}

// connect connects identity on m to the simulated Fitbit user.
func (p *peers) connect(t *testing.T, m *Manager, identity, user string) *tokenstore.Record {
	t.Helper()
	tr := p.sim.MintTokens(user)
	now := time.Now()
	rec := &tokenstore.Record{UserID: tr.UserID, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		TokenType: "Bearer", Expiry: now.Add(8 * time.Hour), Status: tokenstore.StatusOK, ConnectedAt: now}
	if err := m.Connect(context.Background(), identity, rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// mustToken gets identity's access token from m.
func mustToken(t *testing.T, m *Manager, identity string) string {
	t.Helper()
	e, err := m.Get(context.Background(), identity)
	if err != nil {
		t.Fatalf("Get(%s): %v", identity, err)
	}
	return e.AccessToken()
}

// eventually polls cond until it holds, failing after a generous bound (no
// timing is asserted: the bound only keeps a broken build from hanging).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s", what)
		}
	}
}

// eventuallyGetFails waits until m.Get(identity) fails with want.
func eventuallyGetFails(t *testing.T, what string, m *Manager, identity string, want error) {
	t.Helper()
	eventually(t, what, func() bool {
		_, err := m.Get(context.Background(), identity)
		return errors.Is(err, want)
	})
}

// Disconnecting on A stops B from handing out the connection it cached.
func TestPeerDisconnectStopsCachedUse(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStores func(t *testing.T) (tokenstore.Store, tokenstore.Store)) {
		p := newPeers(t, newStores, nil)
		rec := p.connect(t, p.a, "alice", "ALICE1")
		p.settle(t)
		if got := mustToken(t, p.b, "alice"); got != rec.AccessToken {
			t.Fatal("B: not alice's token")
		}
		loads := p.sb.loads.Load()
		mustToken(t, p.b, "alice")
		if p.sb.loads.Load() != loads {
			t.Fatal("B read the store for a cached, fresh token")
		}
		if d, err := p.a.Disconnect(context.Background(), "alice"); err != nil || !d.Existed {
			t.Fatalf("Disconnect: %v %v", d, err)
		}
		eventuallyGetFails(t, "B answers not connected", p.b, "alice", ErrNotConnected)
	})
}

// Reconnecting on A (another Fitbit account) makes B hand out the new token.
func TestPeerReconnectReplacesCachedToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStores func(t *testing.T) (tokenstore.Store, tokenstore.Store)) {
		p := newPeers(t, newStores, nil)
		p.connect(t, p.a, "alice", "ALICE1")
		p.connect(t, p.a, "bob", "BOB222")
		mustToken(t, p.b, "alice")
		bobToken := mustToken(t, p.b, "bob")
		again := p.connect(t, p.a, "alice", "CAROL3")
		eventually(t, "B hands out the new token", func() bool { return mustToken(t, p.b, "alice") == again.AccessToken })
		if e, _ := p.b.Get(context.Background(), "alice"); e.Record().UserID != "CAROL3" {
			t.Fatalf("B: user %s", e.Record().UserID)
		}
		// Only the changed connection is evicted. (By now B has applied
		// every change published before CAROL3's, bob's connect among them.)
		if mustToken(t, p.b, "bob") != bobToken {
			t.Fatal("B: not bob's token")
		}
		third := p.connect(t, p.a, "alice", "ALICE1")
		eventually(t, "B hands out the third token", func() bool { return mustToken(t, p.b, "alice") == third.AccessToken })
		p.settle(t)
		loads := p.sb.loads.Load()
		if mustToken(t, p.b, "bob") != bobToken || p.sb.loads.Load() != loads {
			t.Fatal("B reread bob, whose connection did not change")
		}
	})
}

// A refresh token refused on A (the user revoked the app at Fitbit) marks
// the connection needs_reauth, and B says so too.
func TestPeerNeedsReauthSeen(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStores func(t *testing.T) (tokenstore.Store, tokenstore.Store)) {
		p := newPeers(t, newStores, nil)
		rec := p.connect(t, p.a, "alice", "ALICE1")
		mustToken(t, p.b, "alice")
		p.sim.RevokeUser("ALICE1")
		if _, err := p.a.Refresh(context.Background(), "alice", newEntry(rec, false)); !errors.Is(err, ErrNeedsReauth) {
			t.Fatalf("A: %v", err)
		}
		eventuallyGetFails(t, "B answers needs_reauth", p.b, "alice", ErrNeedsReauth)
	})
}

// A load on B that read the store before A's disconnect, and finishes after
// B applied the change, must not cache what it read: else B would hand out
// the deleted connection until it expires.
func TestLoadRacingAPeerChangeIsNotCached(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStores func(t *testing.T) (tokenstore.Store, tokenstore.Store)) {
		p := newPeers(t, newStores, nil)
		p.connect(t, p.a, "alice", "ALICE1")
		hold := make(chan struct{})
		p.sb.holdLoad.Store(&hold)
		done := make(chan error, 1)
		go func() {
			_, err := p.b.Get(context.Background(), "alice")
			done <- err
		}()
		<-hold // B has read alice's connection
		if _, err := p.a.Disconnect(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		v, _ := p.b.cache.slots.Load("alice")
		eventually(t, "B applies the change", func() bool { return v.(*slot).gen.Load() > 0 })
		hold <- struct{}{}
		if err := <-done; err != nil {
			t.Fatalf("the racing Get: %v", err) // it read the connection before it was deleted
		}
		if _, err := p.b.Get(context.Background(), "alice"); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("after the change: %v, want ErrNotConnected (the racing load was cached)", err)
		}
	})
}

// A feed that lost changes, or cannot be read for long, makes B drop every
// cached connection; B then reads the store again.
func TestUntrustedFeedEvictsEverything(t *testing.T) {
	p := newPeers(t, storePairs["storage"], nil)
	p.connect(t, p.a, "alice", "ALICE1")
	p.connect(t, p.a, "bob", "BOB222")
	p.settle(t)
	mustToken(t, p.b, "alice")
	mustToken(t, p.b, "bob")
	if n := p.b.Cached(); n != 2 {
		t.Fatalf("B caches %d", n)
	}
	p.sb.missOnce.Store(true)
	eventually(t, "lost changes evict everything", func() bool { return p.b.Cached() == 0 })
	loads := p.sb.loads.Load()
	mustToken(t, p.b, "alice")
	if p.sb.loads.Load() != loads+1 {
		t.Fatal("B did not reread alice")
	}

	p.sb.failFeed.Store(true)
	eventually(t, "an unreadable feed evicts everything", func() bool { return p.b.Cached() == 0 })
	p.sb.failFeed.Store(false)
	mustToken(t, p.b, "alice")
	eventually(t, "B reads the feed again", func() bool {
		// A change published now reaches B again.
		again := p.connect(t, p.a, "bob", "CAROL3")
		time.Sleep(2 * followInterval)
		return mustToken(t, p.b, "bob") == again.AccessToken
	})
}

// A change whose publication failed for good (the store went away between
// the write and the publication) is caught by the age limit: B compares
// its entry with the store once it is older than MaxAge, in the
// background, and stops using it.
func TestUnpublishedChangeCaughtByMaxAge(t *testing.T) {
	clk := simtest.NewClock()
	clk.Advance(time.Now().Sub(clk.Now())) // start at the real time: token expiries are real
	p := newPeers(t, storePairs["storage"], func(c *Config) { c.Now = clk.Now; c.MaxAge = time.Minute })
	p.connect(t, p.a, "alice", "ALICE1")
	p.settle(t)
	mustToken(t, p.b, "alice")
	p.sa.failPublish.Store(true)
	if _, err := p.a.Disconnect(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	loads := p.sb.loads.Load()
	mustToken(t, p.b, "alice") // within the age: still cached
	if p.sb.loads.Load() != loads {
		t.Fatal("B read the store for a young entry")
	}
	clk.Advance(time.Minute + time.Second)
	eventuallyGetFails(t, "B stops using the old entry", p.b, "alice", ErrNotConnected)
}

// An unsaved pair (refreshed, the store refused it) is the only copy of its
// refresh token: no eviction may drop it.
func TestEvictionKeepsUnsavedPair(t *testing.T) {
	c := newCache(100, time.Now)
	rec := &tokenstore.Record{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash("alice"), AccessToken: "a", RefreshToken: "r"}
	held := newEntry(rec, true)
	c.put("alice", held)
	if c.evictHash(tokenstore.IdentityHash("alice")) || c.evictAll() != 0 || c.get("alice", time.Now()) != held {
		t.Fatal("an unsaved pair was evicted")
	}
	saved := newEntry(rec, false)
	c.put("bob", saved)
	if !c.evictHash(tokenstore.IdentityHash("bob")) || c.get("bob", time.Now()) != nil {
		t.Fatal("a saved entry was not evicted")
	}
}

// The hash index follows the LRU: an identity evicted for room is gone
// from it, and one cached again is back.
func TestHashIndexFollowsLRU(t *testing.T) {
	c := newCache(orderShards, time.Now) // one slot per shard
	rec := &tokenstore.Record{AccessToken: "a"}
	var ids []string
	for i := range 4 * orderShards {
		ids = append(ids, fmt.Sprintf("user%d", i))
	}
	for _, id := range ids {
		c.put(id, newEntry(rec, false))
	}
	slots, hashes := 0, 0
	c.slots.Range(func(_, _ any) bool { slots++; return true })
	c.byHash.Range(func(k, v any) bool {
		hashes++
		if k.(string) != tokenstore.IdentityHash(v.(string)) {
			t.Errorf("byHash maps %s to %s", k, v)
		}
		if _, ok := c.slots.Load(v); !ok {
			t.Errorf("byHash holds %s, which has no slot", v)
		}
		return true
	})
	if slots > orderShards || hashes != slots {
		t.Fatalf("%d slots, %d hashes, bound %d", slots, hashes, orderShards)
	}
	c.remove(ids[len(ids)-1])
	if _, ok := c.byHash.Load(tokenstore.IdentityHash(ids[len(ids)-1])); ok {
		t.Fatal("remove left the hash")
	}
}
