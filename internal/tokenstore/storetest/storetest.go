// Package storetest is a conformance suite for tokenstore.Store
// implementations.
//
// Run it from a test of the implementation with a constructor that returns
// two handles on one fresh backing store, as two gateway instances sharing
// the store would have them:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
//			...
//		}, storetest.Options{Dump: ...})
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Options tunes Run for a backend.
type Options struct {
	// Dump, if set, returns every raw value held by the backing store that
	// the most recent newStore call created, and every key or file name
	// too: the suite checks that no token, verifier, raw identity or state
	// appears in any of them. The suite runs its subtests one after another
	// and calls Dump only in the subtest that called newStore. Without Dump
	// the plaintext check is skipped.
	Dump func(t *testing.T) [][]byte

	// SaveNeedsLock says that SaveConnection's compare-and-set is atomic
	// across handles only while the writer holds the connection's lock
	// (storagestore.Store: read, compare and write under the storage lock). The
	// suite then skips concurrent writers across handles that do not hold
	// the lock. Concurrent writers on one handle, and writers holding the
	// lock, are checked either way.
	SaveNeedsLock bool

	// LockHandoff bounds how long a waiting LockConnection may take to get
	// a lock after its holder unlocked (default 10s; certmagic's
	// FileStorage polls once a second).
	LockHandoff time.Duration

	// SetNow, if set, makes now the clock of both handles that the most
	// recent newStore call returned (storagestore.Store.Now, the Redis store's
	// Now). The entry tests then move a fake clock instead of sleeping,
	// which also checks that expiry follows the store's clock, not timers
	// of the backend's own. Without it they use the real clock.
	SetNow func(t *testing.T, now func() time.Time)

	// Tamper, if set, alters the stored value of connection k in the
	// backing store that the most recent newStore call created, the way an
	// attacker with write access to the storage (or bit rot) would: the
	// suite then checks that the record reads as tokenstore.ErrUnreadable
	// and can be deleted and replaced. Without it that test is skipped.
	Tamper func(t *testing.T, k tokenstore.Key)
}

// Run runs the conformance suite. newStore is called once per subtest and
// must return two handles (two independent clients or store values) on the
// same, empty backing store; it registers its own cleanup with t.
func Run(t *testing.T, newStore func(t *testing.T) (tokenstore.Store, tokenstore.Store), opts ...Options) {
	s := newSuite(t, newStore, opts)
	subtests(t, []subtest{
		{"LoadNotFound", s.testLoadNotFound},
		{"InvalidKeys", s.testInvalidKeys},
		{"CreateRoundTrip", s.testCreateRoundTrip},
		{"UpdateIncrementsVersion", s.testUpdate},
		{"StaleVersionConflicts", s.testStaleVersion},
		{"ConcurrentWritersOneHandle", s.testConcurrentWritersOneHandle},
		{"ConcurrentWritersAcrossHandles", s.testConcurrentWritersAcrossHandles},
		{"ConcurrentLockedWritersAcrossHandles", s.testConcurrentLockedWriters},
		{"DeleteIdempotent", s.testDelete},
		{"UnreadableConnection", s.testUnreadable},
		{"ListRefreshing", s.testListRefreshing},
		{"ConflictLeavesRefreshingIndex", s.testConflictLeavesIndex},
		{"LockExcludesAcrossHandles", s.testLockExcludes},
		{"LockWaitHonoursContext", s.testLockContext},
		{"LockIndependentKeys", s.testLockIndependent},
		{"UnlockTwice", s.testUnlockTwice},
		{"LockMutualExclusionStress", s.testLockStress},
		{"PendingRoundTrip", s.testPendingRoundTrip},
		{"PendingValidation", s.testPendingValidation},
		{"PendingTakeExactlyOnce", s.testPendingExactlyOnce},
		{"PendingExpired", s.testPendingExpired},
		{"PurgeKeepsLivePending", s.testPurge},
		{"NoPlaintextAtRest", s.testNoPlaintext},
		{"Entries", s.testEntries},
		{"Changes", s.testChanges},
		{"InventoryConnectionsPaged", s.testListConnectionsPaged},
		{"InventoryQueryValidation", s.testListQueryValidation},
		{"InventoryUnreadableListed", s.testListUnreadable},
		{"InventorySealedBy", s.testSealedBy},
		{"InventoryPending", s.testSealedPending},
		{"InventoryEntries", s.testSealedEntries},
	})
}

type subtest struct {
	name string
	fn   func(t *testing.T)
}

func subtests(t *testing.T, tests []subtest) {
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

// RunEntries runs only the entry tests of Run (tokenstore.Entries), e.g.
// once more with Options.SetNow.
func RunEntries(t *testing.T, newStore func(t *testing.T) (tokenstore.Store, tokenstore.Store), opts ...Options) {
	newSuite(t, newStore, opts).testEntries(t)
}

func newSuite(t *testing.T, newStore func(t *testing.T) (tokenstore.Store, tokenstore.Store), opts []Options) *suite {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatal("storetest.Run: at most one Options")
	}
	if o.LockHandoff <= 0 {
		o.LockHandoff = 10 * time.Second
	}
	return &suite{newStore: newStore, opts: o}
}

type suite struct {
	newStore func(t *testing.T) (tokenstore.Store, tokenstore.Store)
	opts     Options
}

func (s *suite) stores(t *testing.T) (a, b tokenstore.Store) {
	t.Helper()
	a, b = s.newStore(t)
	if a == nil || b == nil {
		t.Fatal("newStore returned a nil store")
	}
	return a, b
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// unique returns a random string with a recognisable prefix.
func unique(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

var (
	t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
)

// NewRecord returns a fully populated record for identity under provider,
// with random tokens, at version 0.
func NewRecord(provider, identity string) *tokenstore.Record {
	return &tokenstore.Record{
		Provider:     provider,
		IdentityHash: tokenstore.IdentityHash(identity),
		UserID:       unique("USERID"),
		Scopes:       []string{"activity", "heartrate", "sleep"},
		AccessToken:  unique("access"),
		RefreshToken: unique("refresh"),
		TokenType:    "Bearer",
		Expiry:       t0.Add(8 * time.Hour),
		Status:       tokenstore.StatusOK,
		ConnectedAt:  t0,
		RefreshedAt:  t0.Add(time.Minute),
		Extra:        map[string]string{"health_user_id": unique("hu"), "region": "eu"},
	}
}

// NewPending returns a pending authorization with random state, identity and
// verifier, expiring at expires.
func NewPending(provider string, expires time.Time) *tokenstore.Pending {
	return &tokenstore.Pending{
		State:       unique("state"),
		Provider:    provider,
		Identity:    unique("identity"),
		Verifier:    unique("verifier") + "-0123456789abcdefghijklmnopqrstuvwxyz",
		ReturnTo:    "/app/done",
		Scopes:      []string{"https://www.googleapis.com/auth/googlehealth.profile.readonly"},
		BrowserHash: unique("browser"),
		RedirectURI: "https://gw.example/fitbit/callback",
		Expires:     expires.UTC(),
	}
}

func mustSave(t *testing.T, st tokenstore.Store, rec *tokenstore.Record) {
	t.Helper()
	before := rec.Version
	if err := st.SaveConnection(testCtx(t), rec); err != nil {
		t.Fatalf("SaveConnection(version %d): %v", before, err)
	}
	if rec.Version != before+1 {
		t.Fatalf("SaveConnection(version %d) set Version to %d, want %d", before, rec.Version, before+1)
	}
}

func mustLoad(t *testing.T, st tokenstore.Store, k tokenstore.Key) *tokenstore.Record {
	t.Helper()
	rec, err := st.LoadConnection(testCtx(t), k)
	if err != nil {
		t.Fatalf("LoadConnection(%s): %v", k, err)
	}
	return rec
}

// sameRecord compares records through their JSON form (the stored form),
// which sidesteps time.Location differences.
func sameRecord(t *testing.T, what string, got, want *tokenstore.Record) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("%s: record differs\n got: %s\nwant: %s", what, g, w)
	}
}

func (s *suite) testLoadNotFound(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	k := tokenstore.KeyOf("fitbit", unique("nobody"))
	for _, st := range []tokenstore.Store{a, b} {
		if rec, err := st.LoadConnection(ctx, k); !errors.Is(err, tokenstore.ErrNotFound) || rec != nil {
			t.Fatalf("LoadConnection of a missing connection = %v, %v; want nil, ErrNotFound", rec, err)
		}
	}
}

func (s *suite) testInvalidKeys(t *testing.T) {
	a, _ := s.stores(t)
	ctx := testCtx(t)
	bad := []tokenstore.Key{
		{},
		{Provider: "fitbit", IdentityHash: "alice"},                                      // a raw identity, not a hash
		{Provider: "Fit Bit", IdentityHash: tokenstore.IdentityHash("alice")},            // bad provider
		{Provider: "fitbit", IdentityHash: "../" + tokenstore.IdentityHash("alice")[3:]}, // path tricks
	}
	for _, k := range bad {
		if _, err := a.LoadConnection(ctx, k); err == nil || errors.Is(err, tokenstore.ErrNotFound) {
			t.Errorf("LoadConnection(%q) = %v, want a validation error", k, err)
		}
		if err := a.DeleteConnection(ctx, k); err == nil {
			t.Errorf("DeleteConnection(%q) = nil, want a validation error", k)
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if l, err := a.LockConnection(lctx, k); err == nil {
			_ = l.Unlock(ctx)
			t.Errorf("LockConnection(%q) = nil error, want a validation error", k)
		}
		cancel()
		rec := NewRecord("fitbit", "x")
		rec.Provider, rec.IdentityHash = k.Provider, k.IdentityHash
		if err := a.SaveConnection(ctx, rec); err == nil || errors.Is(err, tokenstore.ErrConflict) {
			t.Errorf("SaveConnection with key %q = %v, want a validation error", k, err)
		}
	}
	if err := a.SaveConnection(ctx, nil); err == nil {
		t.Error("SaveConnection(nil) = nil, want an error")
	}
	if keys, err := a.ListRefreshing(ctx); err != nil || len(keys) != 0 {
		t.Errorf("after rejected saves ListRefreshing = %v, %v; want none", keys, err)
	}
}

func (s *suite) testCreateRoundTrip(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	rec := NewRecord("fitbit", unique("alice"))
	rec.Refreshing = &tokenstore.RefreshMarker{Since: t0.Add(2 * time.Minute), TokenHash: tokenstore.TokenHash(rec.RefreshToken), Instance: "gw-1"}
	want := rec.Clone()
	mustSave(t, a, rec)
	if rec.Version != 1 {
		t.Fatalf("first save set Version %d, want 1", rec.Version)
	}
	want.Version = 1
	k := tokenstore.KeyOfRecord(rec)
	for name, st := range map[string]tokenstore.Store{"same handle": a, "other handle": b} {
		got := mustLoad(t, st, k)
		sameRecord(t, name, got, want)
		if got.Refreshing == nil || !got.Refreshing.Since.Equal(want.Refreshing.Since) {
			t.Fatalf("%s: refresh marker not preserved: %+v", name, got.Refreshing)
		}
		if !got.Expiry.Equal(want.Expiry) || !got.ConnectedAt.Equal(want.ConnectedAt) {
			t.Fatalf("%s: times not preserved", name)
		}
	}
	// A loaded record is the caller's own copy.
	got := mustLoad(t, a, k)
	got.Scopes[0] = "mutated"
	got.Extra["region"] = "mutated"
	sameRecord(t, "after mutating a loaded copy", mustLoad(t, a, k), want)

	// A second connection of the same identity to another provider is separate.
	other := NewRecord("google", unique("alice"))
	other.IdentityHash = rec.IdentityHash
	mustSave(t, b, other)
	if other.Version != 1 {
		t.Fatalf("other provider's first save set Version %d, want 1", other.Version)
	}
	sameRecord(t, "first provider after saving another", mustLoad(t, a, k), want)
	if err := a.SaveConnection(ctx, NewRecord("fitbit", unique("carol"))); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testUpdate(t *testing.T) {
	a, b := s.stores(t)
	rec := NewRecord("fitbit", unique("alice"))
	mustSave(t, a, rec)
	k := tokenstore.KeyOfRecord(rec)
	for i := 2; i <= 4; i++ {
		st := []tokenstore.Store{a, b}[i%2]
		cur := mustLoad(t, st, k)
		if cur.Version != uint64(i-1) {
			t.Fatalf("loaded version %d, want %d", cur.Version, i-1)
		}
		cur.RefreshToken = unique("refresh")
		cur.AccessToken = unique("access")
		cur.Scopes = append(cur.Scopes, fmt.Sprintf("scope%d", i))
		want := cur.Clone()
		mustSave(t, st, cur)
		want.Version = uint64(i)
		for _, h := range []tokenstore.Store{a, b} {
			sameRecord(t, fmt.Sprintf("after save %d", i), mustLoad(t, h, k), want)
		}
	}
}

func (s *suite) testStaleVersion(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	rec := NewRecord("fitbit", unique("alice"))
	k := tokenstore.KeyOfRecord(rec)

	// Nothing stored: only version 0 may create.
	for _, v := range []uint64{1, 3} {
		c := rec.Clone()
		c.Version = v
		if err := a.SaveConnection(ctx, c); !errors.Is(err, tokenstore.ErrConflict) {
			t.Fatalf("save with version %d over nothing = %v, want ErrConflict", v, err)
		}
		if c.Version != v {
			t.Fatalf("a conflicting save changed the caller's Version to %d", c.Version)
		}
		if _, err := b.LoadConnection(ctx, k); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("a conflicting save created a record: %v", err)
		}
	}

	mustSave(t, a, rec) // v1
	stale := mustLoad(t, b, k)
	next := stale.Clone()
	next.RefreshToken = unique("refresh")
	mustSave(t, b, next) // v2
	want := next.Clone()

	for _, tc := range []struct {
		name    string
		version uint64
		st      tokenstore.Store
	}{
		{"stale v1 via other handle", 1, a},
		{"stale v1 via writer's handle", 1, b},
		{"v0 over an existing record", 0, a},
		{"a future version", 7, b},
	} {
		c := stale.Clone()
		c.Version = tc.version
		c.RefreshToken = unique("loser")
		c.Refreshing = &tokenstore.RefreshMarker{Since: t0, TokenHash: "x"}
		if err := tc.st.SaveConnection(ctx, c); !errors.Is(err, tokenstore.ErrConflict) {
			t.Fatalf("%s: save = %v, want ErrConflict", tc.name, err)
		}
		if c.Version != tc.version {
			t.Fatalf("%s: a conflicting save changed the caller's Version to %d", tc.name, c.Version)
		}
		for _, h := range []tokenstore.Store{a, b} {
			sameRecord(t, tc.name+": stored record after the conflict", mustLoad(t, h, k), want)
		}
	}
	if keys, err := a.ListRefreshing(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("conflicting saves with a marker left ListRefreshing = %v, %v", keys, err)
	}
}

// raceWriters has n writers save a copy of base (version base.Version) at
// once, writer i on stores[i%len(stores)], each holding the connection's
// lock if locked. Exactly one must win; the stored record must be the
// winner's.
func (s *suite) raceWriters(t *testing.T, base *tokenstore.Record, n int, locked bool, stores ...tokenstore.Store) {
	t.Helper()
	ctx := testCtx(t)
	k := tokenstore.KeyOfRecord(base)
	var (
		start  = make(chan struct{})
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []string
		others []error
	)
	for i := 0; i < n; i++ {
		st := stores[i%len(stores)]
		c := base.Clone()
		c.RefreshToken = unique(fmt.Sprintf("writer%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if locked {
				l, err := st.LockConnection(ctx, k)
				if err != nil {
					mu.Lock()
					others = append(others, fmt.Errorf("lock: %w", err))
					mu.Unlock()
					return
				}
				defer func() { _ = l.Unlock(ctx) }()
			}
			err := st.SaveConnection(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, c.RefreshToken)
			} else {
				others = append(others, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d of %d concurrent writers of version %d won; want exactly 1", len(wins), n, base.Version)
	}
	for _, err := range others {
		if !errors.Is(err, tokenstore.ErrConflict) {
			t.Fatalf("a losing writer got %v, want ErrConflict", err)
		}
	}
	for _, st := range stores {
		got := mustLoad(t, st, k)
		if got.Version != base.Version+1 || got.RefreshToken != wins[0] {
			t.Fatalf("stored record is version %d with another writer's token; want version %d from the winner", got.Version, base.Version+1)
		}
	}
}

func (s *suite) testConcurrentWritersOneHandle(t *testing.T) {
	a, _ := s.stores(t)
	rec := NewRecord("fitbit", unique("alice"))
	s.raceWriters(t, rec, 20, false, a) // creation race: version 0
	cur := mustLoad(t, a, tokenstore.KeyOfRecord(rec))
	s.raceWriters(t, cur, 20, false, a)
}

func (s *suite) testConcurrentWritersAcrossHandles(t *testing.T) {
	if s.opts.SaveNeedsLock {
		t.Skip("Options.SaveNeedsLock: this store's compare-and-set is atomic across handles only under the connection lock")
	}
	a, b := s.stores(t)
	rec := NewRecord("fitbit", unique("alice"))
	s.raceWriters(t, rec, 20, false, a, b)
	cur := mustLoad(t, b, tokenstore.KeyOfRecord(rec))
	s.raceWriters(t, cur, 20, false, a, b)
}

func (s *suite) testConcurrentLockedWriters(t *testing.T) {
	a, b := s.stores(t)
	rec := NewRecord("fitbit", unique("alice"))
	mustSave(t, a, rec)
	s.raceWriters(t, rec, 20, true, a, b)
}

func (s *suite) testDelete(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	rec := NewRecord("fitbit", unique("alice"))
	k := tokenstore.KeyOfRecord(rec)
	if err := a.DeleteConnection(ctx, k); err != nil {
		t.Fatalf("deleting a missing connection = %v, want nil", err)
	}
	rec.Refreshing = &tokenstore.RefreshMarker{Since: t0, TokenHash: tokenstore.TokenHash(rec.RefreshToken)}
	mustSave(t, a, rec)
	keep := NewRecord("fitbit", unique("bob"))
	mustSave(t, a, keep)
	mustSave(t, a, rec) // v2, still marked
	if err := b.DeleteConnection(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, st := range []tokenstore.Store{a, b} {
		if _, err := st.LoadConnection(ctx, k); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("after delete LoadConnection = %v, want ErrNotFound", err)
		}
		if keys, err := st.ListRefreshing(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("after delete ListRefreshing = %v, %v; want none", keys, err)
		}
	}
	if err := a.DeleteConnection(ctx, k); err != nil {
		t.Fatalf("second delete = %v, want nil", err)
	}
	if err := b.DeleteConnection(ctx, k); err != nil {
		t.Fatalf("third delete = %v, want nil", err)
	}
	sameRecord(t, "an unrelated connection after delete", mustLoad(t, b, tokenstore.KeyOfRecord(keep)), keep)

	// Old versions conflict; version 0 creates again, at version 1.
	stale := rec.Clone()
	if err := a.SaveConnection(ctx, stale); !errors.Is(err, tokenstore.ErrConflict) {
		t.Fatalf("save with the pre-delete version = %v, want ErrConflict", err)
	}
	fresh := NewRecord("fitbit", "")
	fresh.IdentityHash = rec.IdentityHash
	mustSave(t, b, fresh)
	if fresh.Version != 1 {
		t.Fatalf("recreated connection has version %d, want 1", fresh.Version)
	}
	sameRecord(t, "recreated connection", mustLoad(t, a, k), fresh)
}

// testUnreadable: a tampered record reads as ErrUnreadable (not as missing,
// not as a store outage) on every handle, leaks nothing of itself in the
// error, and can be deleted, after which version 0 creates it again.
func (s *suite) testUnreadable(t *testing.T) {
	if s.opts.Tamper == nil {
		t.Skip("no Options.Tamper for this backend")
	}
	a, b := s.stores(t)
	ctx := testCtx(t)
	rec := NewRecord("fitbit", unique("alice"))
	k := tokenstore.KeyOfRecord(rec)
	mustSave(t, a, rec)
	s.opts.Tamper(t, k)
	for _, st := range []tokenstore.Store{a, b} {
		_, err := st.LoadConnection(ctx, k)
		if !errors.Is(err, tokenstore.ErrUnreadable) || errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("LoadConnection of a tampered record = %v, want ErrUnreadable", err)
		}
		for _, secret := range []string{rec.AccessToken, rec.RefreshToken, rec.UserID} {
			if strings.Contains(err.Error(), secret) {
				t.Fatal("the error quotes the record")
			}
		}
	}
	if err := b.DeleteConnection(ctx, k); err != nil {
		t.Fatalf("DeleteConnection of an unreadable record: %v", err)
	}
	if _, err := a.LoadConnection(ctx, k); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("after delete LoadConnection = %v, want ErrNotFound", err)
	}
	fresh := NewRecord("fitbit", "")
	fresh.IdentityHash = rec.IdentityHash
	mustSave(t, a, fresh)
	sameRecord(t, "the record saved over the deleted unreadable one", mustLoad(t, b, k), fresh)
}

// TamperFile flips the last bit of the value stored under key in a
// certmagic.FileStorage rooted at dir: an Options.Tamper for storagestore.Store.
func TamperFile(t *testing.T, dir, key string) {
	t.Helper()
	name := (&certmagic.FileStorage{Path: dir}).Filename(key)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sortKeys(keys []tokenstore.Key) []tokenstore.Key {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(x, y tokenstore.Key) int {
		if c := cmpString(x.Provider, y.Provider); c != 0 {
			return c
		}
		return cmpString(x.IdentityHash, y.IdentityHash)
	})
	return keys
}

func cmpString(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (s *suite) expectRefreshing(t *testing.T, what string, want []tokenstore.Key, stores ...tokenstore.Store) {
	t.Helper()
	want = sortKeys(want)
	for _, st := range stores {
		got, err := st.ListRefreshing(testCtx(t))
		if err != nil {
			t.Fatalf("%s: ListRefreshing: %v", what, err)
		}
		got = sortKeys(got)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s: ListRefreshing = %v, want %v", what, got, want)
		}
	}
}

func (s *suite) testListRefreshing(t *testing.T) {
	a, b := s.stores(t)
	s.expectRefreshing(t, "empty store", nil, a, b)

	marked := func(rec *tokenstore.Record) *tokenstore.Record {
		rec.Refreshing = &tokenstore.RefreshMarker{Since: time.Now().UTC(), TokenHash: tokenstore.TokenHash(rec.RefreshToken), Instance: "gw"}
		return rec
	}
	r1 := marked(NewRecord("fitbit", unique("one")))
	r2 := NewRecord("fitbit", unique("two"))
	r3 := marked(NewRecord("google", unique("three")))
	mustSave(t, a, r1)
	mustSave(t, b, r2)
	mustSave(t, b, r3)
	k1, k3 := tokenstore.KeyOfRecord(r1), tokenstore.KeyOfRecord(r3)
	s.expectRefreshing(t, "after saving two marked and one unmarked", []tokenstore.Key{k1, k3}, a, b)

	// A marked record saved again stays listed once.
	r1.Refreshing.Instance = "gw-2"
	mustSave(t, b, r1)
	s.expectRefreshing(t, "after re-saving a marked record", []tokenstore.Key{k1, k3}, a, b)

	// A save without the marker clears it; with it again, lists it again.
	r1.Refreshing = nil
	mustSave(t, a, r1)
	s.expectRefreshing(t, "after clearing one marker", []tokenstore.Key{k3}, a, b)
	marked(r2)
	mustSave(t, a, r2)
	s.expectRefreshing(t, "after marking the unmarked one", []tokenstore.Key{tokenstore.KeyOfRecord(r2), k3}, a, b)

	if err := a.DeleteConnection(testCtx(t), k3); err != nil {
		t.Fatal(err)
	}
	r2.Refreshing = nil
	mustSave(t, b, r2)
	s.expectRefreshing(t, "after delete and clear", nil, a, b)
}

func (s *suite) testConflictLeavesIndex(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	rec := NewRecord("fitbit", unique("alice"))
	rec.Refreshing = &tokenstore.RefreshMarker{Since: t0, TokenHash: tokenstore.TokenHash(rec.RefreshToken)}
	mustSave(t, a, rec)
	k := tokenstore.KeyOfRecord(rec)
	// A stale writer clearing the marker must not clear it.
	stale := rec.Clone()
	stale.Version = 0
	stale.Refreshing = nil
	if err := b.SaveConnection(ctx, stale); !errors.Is(err, tokenstore.ErrConflict) {
		t.Fatalf("stale save = %v, want ErrConflict", err)
	}
	s.expectRefreshing(t, "after a stale save without the marker", []tokenstore.Key{k}, a, b)
	// And a stale writer setting one must not set it.
	rec.Refreshing = nil
	mustSave(t, a, rec) // v2, unmarked
	stale = rec.Clone()
	stale.Version = 1
	stale.Refreshing = &tokenstore.RefreshMarker{Since: t0, TokenHash: "x"}
	if err := b.SaveConnection(ctx, stale); !errors.Is(err, tokenstore.ErrConflict) {
		t.Fatalf("stale save = %v, want ErrConflict", err)
	}
	s.expectRefreshing(t, "after a stale save with a marker", nil, a, b)
}

type lockResult struct {
	l   tokenstore.Lock
	err error
}

func lockAsync(ctx context.Context, st tokenstore.Store, k tokenstore.Key) <-chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		l, err := st.LockConnection(ctx, k)
		ch <- lockResult{l, err}
	}()
	return ch
}

// notLost fails if l reports a lost lease.
func notLost(t *testing.T, what string, l tokenstore.Lock) {
	t.Helper()
	if ch := l.Lost(); ch != nil {
		select {
		case <-ch:
			t.Fatalf("%s: Lost() is closed while the lock is held", what)
		default:
		}
	}
}

func (s *suite) testLockExcludes(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	k := tokenstore.KeyOf("fitbit", unique("alice"))
	for _, pair := range [][2]tokenstore.Store{{a, b}, {b, a}, {a, a}} {
		first, second := pair[0], pair[1]
		l1, err := first.LockConnection(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		wait := lockAsync(ctx, second, k)
		select {
		case r := <-wait:
			if r.err == nil {
				_ = r.l.Unlock(ctx)
			}
			t.Fatalf("a second LockConnection returned (%v) while the lock was held", r.err)
		case <-time.After(500 * time.Millisecond):
		}
		notLost(t, "first holder", l1)
		if err := l1.Unlock(ctx); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		select {
		case r := <-wait:
			if r.err != nil {
				t.Fatalf("waiting LockConnection after Unlock: %v", r.err)
			}
			notLost(t, "second holder", r.l)
			if err := r.l.Unlock(ctx); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
		case <-time.After(s.opts.LockHandoff):
			t.Fatalf("waiting LockConnection did not get the lock within %s of Unlock", s.opts.LockHandoff)
		}
	}
}

func (s *suite) testLockContext(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	k := tokenstore.KeyOf("fitbit", unique("alice"))
	l, err := a.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Unlock(ctx) }()

	for _, st := range []tokenstore.Store{b, a} {
		// A deadline...
		dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		started := time.Now()
		l2, err := st.LockConnection(dctx, k)
		cancel()
		if err == nil {
			_ = l2.Unlock(ctx)
			t.Fatal("LockConnection got a held lock")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("LockConnection past its deadline = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(started); d > 5*time.Second {
			t.Fatalf("LockConnection returned %s after a 300ms deadline", d)
		}
		// ...and a cancellation while waiting.
		cctx, cancel := context.WithCancel(ctx)
		wait := lockAsync(cctx, st, k)
		time.Sleep(200 * time.Millisecond)
		cancel()
		select {
		case r := <-wait:
			if r.err == nil {
				_ = r.l.Unlock(ctx)
				t.Fatal("LockConnection got a held lock")
			}
			if !errors.Is(r.err, context.Canceled) {
				t.Fatalf("cancelled LockConnection = %v, want context.Canceled", r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("LockConnection did not return within 5s of its context being cancelled")
		}
	}
	notLost(t, "holder", l)
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	// The aborted waits left nothing behind: the lock is free.
	fctx, cancel := context.WithTimeout(ctx, s.opts.LockHandoff)
	defer cancel()
	l3, err := b.LockConnection(fctx, k)
	if err != nil {
		t.Fatalf("locking after aborted waits: %v", err)
	}
	_ = l3.Unlock(ctx)
}

func (s *suite) testLockIndependent(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	id := unique("alice")
	k1 := tokenstore.KeyOf("fitbit", id)
	k2 := tokenstore.KeyOf("fitbit", unique("bob"))
	k3 := tokenstore.KeyOf("google", id) // same identity, other provider
	l1, err := a.LockConnection(ctx, k1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l1.Unlock(ctx) }()
	for _, k := range []tokenstore.Key{k2, k3} {
		for _, st := range []tokenstore.Store{a, b} {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			l, err := st.LockConnection(qctx, k)
			cancel()
			if err != nil {
				t.Fatalf("locking %s while %s is held: %v", k, k1, err)
			}
			if err := l.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (s *suite) testUnlockTwice(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	k := tokenstore.KeyOf("fitbit", unique("alice"))
	l1, err := a.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := l1.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l1.Unlock(ctx); err != nil {
		t.Fatalf("second Unlock = %v, want nil", err)
	}
	// A stale handle's Unlock must not release the next holder's lock.
	hctx, cancel := context.WithTimeout(ctx, s.opts.LockHandoff)
	defer cancel()
	l2, err := b.LockConnection(hctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l2.Unlock(ctx) }()
	if err := l1.Unlock(ctx); err != nil {
		t.Fatalf("third Unlock = %v, want nil", err)
	}
	for _, st := range []tokenstore.Store{a, b} {
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		l3, err := st.LockConnection(qctx, k)
		cancel()
		if err == nil {
			_ = l3.Unlock(ctx)
			t.Fatal("a stale lock's Unlock released another holder's lock")
		}
	}
	notLost(t, "second holder", l2)
	// Unlock with a cancelled context still releases.
	cctx, cancelNow := context.WithCancel(ctx)
	cancelNow()
	_ = l2.Unlock(cctx)
	hctx2, cancel2 := context.WithTimeout(ctx, s.opts.LockHandoff)
	defer cancel2()
	l4, err := a.LockConnection(hctx2, k)
	if err != nil {
		t.Fatalf("Unlock with a cancelled context did not release: %v", err)
	}
	_ = l4.Unlock(ctx)
}

func (s *suite) testLockStress(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	k := tokenstore.KeyOf("fitbit", unique("alice"))
	const workers, rounds = 6, 2
	var inside, entered atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for i := 0; i < workers; i++ {
		st := []tokenstore.Store{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				l, err := st.LockConnection(ctx, k)
				if err != nil {
					errs <- err
					return
				}
				if n := inside.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders at once", n)
				}
				entered.Add(1)
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				if err := l.Unlock(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := entered.Load(); n != workers*rounds {
		t.Fatalf("%d critical sections ran, want %d", n, workers*rounds)
	}
}

func samePending(t *testing.T, what string, got, want *tokenstore.Pending) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil pending", what)
	}
	if got.State != want.State || got.Provider != want.Provider || got.Identity != want.Identity ||
		got.Verifier != want.Verifier || got.ReturnTo != want.ReturnTo || got.BrowserHash != want.BrowserHash ||
		got.RedirectURI != want.RedirectURI || !slices.Equal(got.Scopes, want.Scopes) || !got.Expires.Equal(want.Expires) {
		t.Fatalf("%s: pending differs", what)
	}
}

func (s *suite) testPendingRoundTrip(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	p := NewPending("fitbit", time.Now().Add(10*time.Minute))
	q := NewPending("google", time.Now().Add(10*time.Minute))
	for _, x := range []*tokenstore.Pending{p, q} {
		if err := a.PutPending(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.TakePending(ctx, p.State)
	if err != nil {
		t.Fatalf("TakePending: %v", err)
	}
	samePending(t, "taken via the other handle", got, p)
	for _, st := range []tokenstore.Store{a, b} {
		if got, err := st.TakePending(ctx, p.State); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("second TakePending = %v, %v; want ErrNotFound", got, err)
		}
	}
	for _, state := range []string{"", unique("forged"), q.State + "x"} {
		if got, err := a.TakePending(ctx, state); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("TakePending(unknown state) = %v, %v; want ErrNotFound", got, err)
		}
	}
	got, err = a.TakePending(ctx, q.State)
	if err != nil {
		t.Fatalf("TakePending of the other entry: %v", err)
	}
	samePending(t, "the other entry", got, q)
	// Putting the same state again replaces the entry.
	r := NewPending("fitbit", time.Now().Add(time.Minute))
	r2 := *r
	r2.Verifier = unique("verifier2")
	if err := a.PutPending(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := b.PutPending(ctx, &r2); err != nil {
		t.Fatal(err)
	}
	got, err = a.TakePending(ctx, r.State)
	if err != nil {
		t.Fatal(err)
	}
	samePending(t, "a replaced entry", got, &r2)
}

func (s *suite) testPendingValidation(t *testing.T) {
	a, _ := s.stores(t)
	ctx := testCtx(t)
	exp := time.Now().Add(time.Minute)
	bad := map[string]*tokenstore.Pending{
		"nil":          nil,
		"no state":     {Provider: "fitbit", Identity: "a", Expires: exp},
		"bad provider": {State: "s", Provider: "Fit Bit", Identity: "a", Expires: exp},
		"no identity":  {State: "s", Provider: "fitbit", Expires: exp},
		"no expiry":    {State: "s", Provider: "fitbit", Identity: "a"},
	}
	for name, p := range bad {
		if err := a.PutPending(ctx, p); err == nil {
			t.Errorf("PutPending(%s) = nil, want an error", name)
		}
	}
}

func (s *suite) testPendingExactlyOnce(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	for round := 0; round < 2; round++ {
		p := NewPending("fitbit", time.Now().Add(10*time.Minute))
		if err := []tokenstore.Store{a, b}[round].PutPending(ctx, p); err != nil {
			t.Fatal(err)
		}
		takeExactlyOnce(t, "TakePending", 50, []tokenstore.Store{a, b}, func(st tokenstore.Store) (bool, error) {
			got, err := st.TakePending(ctx, p.State)
			if err == nil && (got == nil || got.Verifier != p.Verifier || got.Identity != p.Identity) {
				return false, errors.New("the winner got a different pending authorization")
			}
			return err == nil, err
		})
	}
}

// takeExactlyOnce has n callers, alternating over stores, call take at once:
// exactly one must win, the others get ErrNotFound.
func takeExactlyOnce(t *testing.T, what string, n int, stores []tokenstore.Store, take func(st tokenstore.Store) (won bool, err error)) {
	t.Helper()
	var wins atomic.Int32
	errs := race(n, stores, func(_ int, st tokenstore.Store) error {
		won, err := take(st)
		if won {
			wins.Add(1)
		}
		if err != nil && !errors.Is(err, tokenstore.ErrNotFound) {
			return err
		}
		return nil
	})
	for _, err := range errs {
		t.Fatalf("a losing %s got %v, want ErrNotFound", what, err)
	}
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d of %d concurrent %s calls won; want exactly 1", w, n, what)
	}
}

// race calls call(i, st) for i < n all at once, st alternating over stores,
// and returns the errors they returned once all have.
func race(n int, stores []tokenstore.Store, call func(i int, st tokenstore.Store) error) []error {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
	)
	for i := 0; i < n; i++ {
		st := stores[i%len(stores)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := call(i, st); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func (s *suite) testPendingExpired(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	past := NewPending("fitbit", time.Now().Add(-time.Second))
	if err := a.PutPending(ctx, past); err != nil {
		t.Fatal(err)
	}
	if got, err := b.TakePending(ctx, past.State); !errors.Is(err, tokenstore.ErrExpired) || got != nil {
		t.Fatalf("TakePending of an expired entry = %v, %v; want nil, ErrExpired", got, err)
	}
	if _, err := a.TakePending(ctx, past.State); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("TakePending after ErrExpired = %v, want ErrNotFound (the entry is deleted)", err)
	}

	soon := NewPending("fitbit", time.Now().Add(300*time.Millisecond))
	if err := b.PutPending(ctx, soon); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := a.TakePending(ctx, soon.State); !errors.Is(err, tokenstore.ErrExpired) {
		t.Fatalf("TakePending of an entry that expired after it was put = %v, want ErrExpired", err)
	}
}

func (s *suite) testPurge(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	live := NewPending("fitbit", time.Now().Add(time.Hour))
	dead := NewPending("fitbit", time.Now().Add(-time.Minute))
	for _, p := range []*tokenstore.Pending{live, dead} {
		if err := a.PutPending(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.PurgeExpiredPending(ctx, time.Now())
	if err != nil {
		t.Fatalf("PurgeExpiredPending: %v", err)
	}
	if n < 0 || n > 1 {
		t.Fatalf("PurgeExpiredPending deleted %d entries; one was expired", n)
	}
	if _, err := a.TakePending(ctx, dead.State); err != nil && !errors.Is(err, tokenstore.ErrNotFound) && !errors.Is(err, tokenstore.ErrExpired) {
		t.Fatalf("TakePending of the expired entry after purge = %v", err)
	} else if err == nil {
		t.Fatal("an expired entry was handed out")
	}
	got, err := a.TakePending(ctx, live.State)
	if err != nil {
		t.Fatalf("PurgeExpiredPending removed a live entry: %v", err)
	}
	samePending(t, "live entry after purge", got, live)
	if n, err := a.PurgeExpiredPending(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("purging an empty store = %d, %v; want 0, nil", n, err)
	}
}

func (s *suite) testNoPlaintext(t *testing.T) {
	if s.opts.Dump == nil {
		t.Skip("no Options.Dump for this backend")
	}
	a, b := s.stores(t)
	ctx := testCtx(t)
	identity := unique("alice@example.com")
	rec := NewRecord("fitbit", identity)
	rec.Refreshing = &tokenstore.RefreshMarker{Since: t0, TokenHash: tokenstore.TokenHash(rec.RefreshToken), Instance: "gw"}
	mustSave(t, a, rec)
	cur := mustLoad(t, b, tokenstore.KeyOfRecord(rec))
	cur.AccessToken, cur.RefreshToken = unique("access2"), unique("refresh2")
	mustSave(t, b, cur)
	p := NewPending("fitbit", time.Now().Add(time.Hour))
	p.Identity = identity
	if err := a.PutPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, b, tokenstore.KeyOfRecord(rec))
	secrets := map[string]string{
		"access token":          cur.AccessToken,
		"refresh token":         cur.RefreshToken,
		"first refresh token":   rec.RefreshToken,
		"first access token":    rec.AccessToken,
		"provider user id":      rec.UserID,
		"extra value":           rec.Extra["health_user_id"],
		"raw identity":          identity,
		"pending state":         p.State,
		"pending verifier":      p.Verifier,
		"pending browser hash":  p.BrowserHash,
		"record JSON fragment":  `"access_token"`,
		"pending JSON fragment": `"verifier"`,
	}
	blobs := s.opts.Dump(t)
	if len(blobs) < 2 {
		t.Fatalf("Dump returned %d values; the store holds at least a connection and a pending entry", len(blobs))
	}
	for _, blob := range blobs {
		for what, secret := range secrets {
			if bytes.Contains(blob, []byte(secret)) {
				t.Errorf("the %s appears in plaintext in the backing store", what)
			}
		}
	}
}

// entryLife is how long the entry tests' short-lived entries live; with the
// real clock the tests sleep past it.
const entryLife = 300 * time.Millisecond

// pastLife moves a clock past the expiry of an entry put for entryLife.
const pastLife = entryLife + 150*time.Millisecond

// entryClock is the clock of the entry tests: a fake one handed to the
// stores with Options.SetNow, else the real one (advance sleeps).
type entryClock struct {
	mu   sync.Mutex
	fake time.Time // zero: the real clock
}

func (c *entryClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fake.IsZero() {
		return time.Now()
	}
	return c.fake
}

func (c *entryClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fake.IsZero() {
		time.Sleep(d)
		return
	}
	c.fake = c.fake.Add(d)
}

func (c *entryClock) isFake() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.fake.IsZero()
}

// entryStores returns two fresh handles and their clock.
func (s *suite) entryStores(t *testing.T) (a, b tokenstore.Store, clk *entryClock) {
	t.Helper()
	a, b = s.stores(t)
	clk = &entryClock{}
	if s.opts.SetNow != nil {
		// Whole milliseconds, as stores keep expiries.
		clk.fake = time.Now().Truncate(time.Millisecond)
		s.opts.SetNow(t, clk.now)
	}
	return a, b, clk
}

func mustPutEntry(t *testing.T, st tokenstore.Store, kind, id string, value []byte, expires time.Time) {
	t.Helper()
	if err := st.PutEntry(testCtx(t), kind, id, value, expires); err != nil {
		t.Fatalf("PutEntry(%s): %v", kind, err)
	}
}

func mustAddEntry(t *testing.T, st tokenstore.Store, kind, id string, value []byte, expires time.Time, want bool) {
	t.Helper()
	added, err := st.AddEntry(testCtx(t), kind, id, value, expires)
	if err != nil || added != want {
		t.Fatalf("AddEntry(%s) = %v, %v; want %v, nil", kind, added, err, want)
	}
}

func wantEntry(t *testing.T, st tokenstore.Store, kind, id string, want []byte) {
	t.Helper()
	got, err := st.GetEntry(testCtx(t), kind, id)
	if err != nil {
		t.Fatalf("GetEntry(%s): %v", kind, err)
	}
	if !bytes.Equal(got, want) || got == nil {
		t.Fatalf("GetEntry(%s) returned %d bytes that differ from the %d stored", kind, len(got), len(want))
	}
}

func wantNoEntry(t *testing.T, st tokenstore.Store, kind, id string) {
	t.Helper()
	if got, err := st.GetEntry(testCtx(t), kind, id); !errors.Is(err, tokenstore.ErrNotFound) || got != nil {
		t.Fatalf("GetEntry(%s) = %d bytes, %v; want nil, ErrNotFound", kind, len(got), err)
	}
}

func (s *suite) testEntries(t *testing.T) {
	subtests(t, []subtest{
		{"RoundTrip", s.testEntryRoundTrip},
		{"KindsAndIDsSeparate", s.testEntryKinds},
		{"Expired", s.testEntryExpired},
		{"ZeroExpiryNeverExpires", s.testEntryNeverExpires},
		{"AddOnce", s.testEntryAddOnce},
		{"AddRace", s.testEntryAddRace},
		{"TakeExactlyOnce", s.testEntryTakeRace},
		{"Delete", s.testEntryDelete},
		{"Purge", s.testEntryPurge},
		{"List", s.testEntryList},
		{"Validation", s.testEntryValidation},
		{"CancelledContext", s.testEntryCancelled},
		{"NoPlaintextAtRest", s.testEntryNoPlaintext},
	})
}

func (s *suite) testEntryRoundTrip(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	id, value := unique("id"), []byte(unique("value"))
	wantNoEntry(t, a, "token", id)
	if got, err := b.TakeEntry(ctx, "token", id); !errors.Is(err, tokenstore.ErrNotFound) || got != nil {
		t.Fatalf("TakeEntry of a missing entry = %d bytes, %v; want nil, ErrNotFound", len(got), err)
	}
	mustPutEntry(t, a, "token", id, value, clk.now().Add(time.Hour))
	wantEntry(t, a, "token", id, value)
	wantEntry(t, b, "token", id, value)

	// A returned value is the caller's own.
	got, err := a.GetEntry(ctx, "token", id)
	if err != nil {
		t.Fatal(err)
	}
	got[0] ^= 0xff
	wantEntry(t, b, "token", id, value)

	// Putting again replaces the value (and the expiry).
	value2 := []byte(unique("value2"))
	mustPutEntry(t, b, "token", id, value2, clk.now().Add(entryLife))
	wantEntry(t, a, "token", id, value2)
	clk.advance(pastLife)
	wantNoEntry(t, a, "token", id)

	// Any bytes, none, and the most allowed.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, v := range [][]byte{all, {}, bytes.Repeat([]byte{0xa5}, tokenstore.MaxEntrySize)} {
		id := unique("id")
		mustPutEntry(t, a, "token", id, v, clk.now().Add(time.Hour))
		wantEntry(t, b, "token", id, v)
		got, err := b.TakeEntry(ctx, "token", id)
		if err != nil || !bytes.Equal(got, v) || got == nil {
			t.Fatalf("TakeEntry of a %d-byte value = %d bytes, %v", len(v), len(got), err)
		}
	}
}

func (s *suite) testEntryKinds(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	id := unique("id")
	kinds := []string{"k", "k2", "request_token", strings.Repeat("z", 32)}
	values := map[string][]byte{}
	for i, kind := range kinds {
		values[kind] = []byte(unique(kind))
		mustPutEntry(t, []tokenstore.Store{a, b}[i%2], kind, id, values[kind], clk.now().Add(time.Hour))
	}
	for _, kind := range kinds {
		wantEntry(t, a, kind, id, values[kind])
		wantNoEntry(t, b, kind, id+"x")
		wantNoEntry(t, b, kind, unique("id"))
	}
	if err := a.DeleteEntry(ctx, kinds[0], id); err != nil {
		t.Fatal(err)
	}
	wantNoEntry(t, b, kinds[0], id)
	mustAddEntry(t, b, kinds[1], id, []byte("other"), clk.now().Add(time.Hour), false)
	for _, kind := range kinds[1:] {
		wantEntry(t, b, kind, id, values[kind])
	}
}

func (s *suite) testEntryExpired(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	// Expired when put...
	past := unique("id")
	mustPutEntry(t, a, "token", past, []byte(unique("value")), clk.now().Add(-time.Second))
	wantNoEntry(t, b, "token", past)
	if got, err := b.TakeEntry(ctx, "token", past); !errors.Is(err, tokenstore.ErrNotFound) || got != nil {
		t.Fatalf("TakeEntry of an expired entry = %d bytes, %v; want nil, ErrNotFound", len(got), err)
	}
	// ...or after.
	ids := []string{unique("id"), unique("id")}
	for _, id := range ids {
		value := []byte(unique("value"))
		mustPutEntry(t, a, "token", id, value, clk.now().Add(entryLife))
		wantEntry(t, b, "token", id, value)
	}
	clk.advance(pastLife)
	for _, st := range []tokenstore.Store{a, b} {
		wantNoEntry(t, st, "token", ids[0])
		if got, err := st.TakeEntry(ctx, "token", ids[1]); !errors.Is(err, tokenstore.ErrNotFound) || got != nil {
			t.Fatalf("TakeEntry of an entry that expired after it was put = %d bytes, %v; want nil, ErrNotFound", len(got), err)
		}
	}
	// Putting it again brings it back.
	value := []byte(unique("value"))
	mustPutEntry(t, b, "token", ids[0], value, clk.now().Add(time.Hour))
	wantEntry(t, a, "token", ids[0], value)
}

func (s *suite) testEntryNeverExpires(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	put, added := unique("id"), unique("id")
	value := []byte(unique("value"))
	mustPutEntry(t, a, "token", put, value, time.Time{})
	mustAddEntry(t, b, "nonce", added, value, time.Time{}, true)
	clk.advance(pastLife)
	if clk.isFake() {
		clk.advance(100 * 365 * 24 * time.Hour)
	}
	wantEntry(t, b, "token", put, value)
	mustAddEntry(t, a, "nonce", added, []byte("again"), time.Time{}, false)
	mustAddEntry(t, a, "token", put, []byte("again"), clk.now().Add(time.Hour), false)
	if got, err := a.TakeEntry(ctx, "nonce", added); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("TakeEntry of an entry that never expires = %d bytes, %v", len(got), err)
	}
}

func (s *suite) testEntryAddOnce(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	id := unique("nonce")
	first, second := []byte(unique("first")), []byte(unique("second"))
	mustAddEntry(t, a, "nonce", id, first, clk.now().Add(entryLife), true)
	for _, st := range []tokenstore.Store{a, b} {
		mustAddEntry(t, st, "nonce", id, second, clk.now().Add(time.Hour), false)
	}
	wantEntry(t, b, "nonce", id, first) // a refused add changes nothing

	clk.advance(pastLife)
	mustAddEntry(t, b, "nonce", id, second, clk.now().Add(time.Hour), true)
	wantEntry(t, a, "nonce", id, second)
	mustAddEntry(t, a, "nonce", id, first, clk.now().Add(time.Hour), false)

	// Once taken or deleted, the id can be added again.
	if got, err := a.TakeEntry(ctx, "nonce", id); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("TakeEntry of an added entry = %d bytes, %v", len(got), err)
	}
	mustAddEntry(t, b, "nonce", id, first, clk.now().Add(time.Hour), true)
	if err := b.DeleteEntry(ctx, "nonce", id); err != nil {
		t.Fatal(err)
	}
	mustAddEntry(t, a, "nonce", id, first, clk.now().Add(time.Hour), true)
}

// testEntryAddRace has 20 callers split over both handles add one id at
// once, first where there is nothing, then over an expired entry: exactly
// one must add, and the stored value must be its.
func (s *suite) testEntryAddRace(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	for round, what := range []string{"a new id", "an expired entry"} {
		id := unique("nonce")
		if round == 1 {
			mustPutEntry(t, a, "nonce", id, []byte(unique("old")), clk.now().Add(entryLife))
			clk.advance(pastLife)
		}
		const n = 20
		var (
			mu   sync.Mutex
			wins [][]byte
		)
		errs := race(n, []tokenstore.Store{a, b}, func(i int, st tokenstore.Store) error {
			value := []byte(unique(fmt.Sprintf("adder%d", i)))
			added, err := st.AddEntry(ctx, "nonce", id, value, clk.now().Add(time.Hour))
			if added {
				mu.Lock()
				wins = append(wins, value)
				mu.Unlock()
			}
			return err
		})
		for _, err := range errs {
			t.Fatalf("%s: a concurrent AddEntry failed: %v", what, err)
		}
		if len(wins) != 1 {
			t.Fatalf("%s: %d of %d concurrent AddEntry calls added; want exactly 1", what, len(wins), n)
		}
		wantEntry(t, a, "nonce", id, wins[0])
		wantEntry(t, b, "nonce", id, wins[0])
	}
}

func (s *suite) testEntryTakeRace(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	for round := 0; round < 2; round++ {
		id, value := unique("token"), []byte(unique("value"))
		mustPutEntry(t, []tokenstore.Store{a, b}[round], "token", id, value, clk.now().Add(time.Hour))
		takeExactlyOnce(t, "TakeEntry", 20, []tokenstore.Store{a, b}, func(st tokenstore.Store) (bool, error) {
			got, err := st.TakeEntry(ctx, "token", id)
			if err == nil && !bytes.Equal(got, value) {
				return false, errors.New("the winner got a different value")
			}
			return err == nil, err
		})
		wantNoEntry(t, a, "token", id)
	}
}

func (s *suite) testEntryDelete(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	id := unique("id")
	for _, st := range []tokenstore.Store{a, b} {
		if err := st.DeleteEntry(ctx, "token", id); err != nil {
			t.Fatalf("deleting a missing entry = %v, want nil", err)
		}
	}
	keep := unique("id")
	mustPutEntry(t, a, "token", id, []byte(unique("value")), clk.now().Add(time.Hour))
	mustPutEntry(t, a, "token", keep, []byte("kept"), clk.now().Add(time.Hour))
	if err := b.DeleteEntry(ctx, "token", id); err != nil {
		t.Fatal(err)
	}
	wantNoEntry(t, a, "token", id)
	wantEntry(t, a, "token", keep, []byte("kept"))
	if err := a.DeleteEntry(ctx, "token", id); err != nil {
		t.Fatalf("deleting an entry twice = %v, want nil", err)
	}
}

// testEntryPurge checks what the contract fixes: a store deletes exactly the
// entries of the kind expired at the given time, or (entries that expire on
// their own) none and returns 0. Either way live entries stay.
func (s *suite) testEntryPurge(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	now := clk.now()
	short, long, never, other := unique("short"), unique("long"), unique("never"), unique("other")
	value := []byte(unique("value"))
	mustPutEntry(t, a, "purge", short, value, now.Add(time.Hour))
	mustPutEntry(t, a, "purge", long, value, now.Add(3*time.Hour))
	mustPutEntry(t, b, "purge", never, value, time.Time{})
	mustPutEntry(t, b, "purge_other", other, value, now.Add(time.Hour))

	// Purge as of two hours on; the stores' clocks stay at now, so what
	// was not deleted still reads.
	n, err := b.PurgeExpiredEntries(ctx, "purge", now.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("PurgeExpiredEntries: %v", err)
	}
	switch n {
	case 0:
		wantEntry(t, a, "purge", short, value)
	case 1:
		wantNoEntry(t, a, "purge", short)
	default:
		t.Fatalf("PurgeExpiredEntries deleted %d entries; one was expired", n)
	}
	wantEntry(t, a, "purge", long, value)
	wantEntry(t, a, "purge", never, value)
	wantEntry(t, a, "purge_other", other, value)
	if n, err := a.PurgeExpiredEntries(ctx, "empty", now.Add(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("purging a kind with no entries = %d, %v; want 0, nil", n, err)
	}
}

// testEntryList: ListEntries returns the live values of one kind, from
// either handle, honours its limit, and leaves out expired and deleted ones.
func (s *suite) testEntryList(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	now := clk.now()
	want := map[string]bool{}
	for i := range 3 {
		v := unique(fmt.Sprintf("value%d", i))
		mustPutEntry(t, a, "list", unique("id"), []byte(v), now.Add(time.Hour))
		want[v] = true
	}
	never := unique("never")
	mustPutEntry(t, b, "list", unique("id"), []byte(never), time.Time{})
	want[never] = true
	gone := unique("deleted")
	mustPutEntry(t, a, "list", gone, []byte(gone), now.Add(time.Hour))
	if err := b.DeleteEntry(ctx, "list", gone); err != nil {
		t.Fatal(err)
	}
	mustPutEntry(t, a, "list", unique("short"), []byte(unique("short")), now.Add(entryLife))
	mustPutEntry(t, a, "list_other", unique("other"), []byte(unique("other")), now.Add(time.Hour))
	clk.advance(pastLife)

	for _, st := range []tokenstore.Store{a, b} {
		got, err := st.ListEntries(ctx, "list", 0)
		if err != nil {
			t.Fatalf("ListEntries: %v", err)
		}
		seen := map[string]bool{}
		for _, v := range got {
			seen[string(v)] = true
		}
		if len(got) != len(want) || len(seen) != len(want) {
			t.Fatalf("ListEntries returned %d values (%d distinct), want the %d live ones", len(got), len(seen), len(want))
		}
		for v := range want {
			if !seen[v] {
				t.Fatal("ListEntries left out a live entry")
			}
		}
	}
	if got, err := b.ListEntries(ctx, "list", 2); err != nil || len(got) != 2 {
		t.Fatalf("ListEntries(limit 2) = %d values, %v", len(got), err)
	}
	if got, err := a.ListEntries(ctx, "empty", 0); err != nil || len(got) != 0 {
		t.Fatalf("ListEntries of a kind with no entries = %d values, %v", len(got), err)
	}
	if _, err := a.ListEntries(ctx, "Bad Kind", 0); err == nil {
		t.Fatal("ListEntries accepted an invalid kind")
	}
}

func (s *suite) testEntryValidation(t *testing.T) {
	a, _, clk := s.entryStores(t)
	ctx := testCtx(t)
	exp := clk.now().Add(time.Hour)
	id := unique("id")
	for _, kind := range []string{"", "A", "Token", "a/b", "a-b", "a:b", "../x", "a b", strings.Repeat("k", 33)} {
		checks := map[string]error{
			"PutEntry":    a.PutEntry(ctx, kind, id, []byte("v"), exp),
			"DeleteEntry": a.DeleteEntry(ctx, kind, id),
		}
		_, checks["AddEntry"] = a.AddEntry(ctx, kind, id, []byte("v"), exp)
		_, checks["GetEntry"] = a.GetEntry(ctx, kind, id)
		_, checks["TakeEntry"] = a.TakeEntry(ctx, kind, id)
		_, checks["PurgeExpiredEntries"] = a.PurgeExpiredEntries(ctx, kind, exp)
		for op, err := range checks {
			if err == nil || errors.Is(err, tokenstore.ErrNotFound) {
				t.Errorf("%s with kind %q = %v, want a validation error", op, kind, err)
			}
		}
	}
	checks := map[string]error{
		"PutEntry with an empty id":     a.PutEntry(ctx, "token", "", []byte("v"), exp),
		"DeleteEntry with an empty id":  a.DeleteEntry(ctx, "token", ""),
		"PutEntry with a value too big": a.PutEntry(ctx, "token", id, make([]byte, tokenstore.MaxEntrySize+1), exp),
	}
	_, checks["AddEntry with an empty id"] = a.AddEntry(ctx, "token", "", []byte("v"), exp)
	_, checks["GetEntry with an empty id"] = a.GetEntry(ctx, "token", "")
	_, checks["TakeEntry with an empty id"] = a.TakeEntry(ctx, "token", "")
	_, checks["AddEntry with a value too big"] = a.AddEntry(ctx, "token", id, make([]byte, tokenstore.MaxEntrySize+1), exp)
	for what, err := range checks {
		if err == nil || errors.Is(err, tokenstore.ErrNotFound) {
			t.Errorf("%s = %v, want a validation error", what, err)
		}
	}
	wantNoEntry(t, a, "token", id) // the rejected writes wrote nothing
}

func (s *suite) testEntryCancelled(t *testing.T) {
	a, b, clk := s.entryStores(t)
	id := unique("id")
	mustPutEntry(t, a, "token", id, []byte("v"), clk.now().Add(time.Hour))
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	fresh := unique("id")
	checks := map[string]error{
		"PutEntry":    b.PutEntry(ctx, "token", fresh, []byte("v"), clk.now().Add(time.Hour)),
		"DeleteEntry": b.DeleteEntry(ctx, "token", id),
	}
	_, checks["AddEntry"] = b.AddEntry(ctx, "token", fresh, []byte("v"), clk.now().Add(time.Hour))
	_, checks["GetEntry"] = b.GetEntry(ctx, "token", id)
	_, checks["TakeEntry"] = b.TakeEntry(ctx, "token", id)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	wantNoEntry(t, a, "token", fresh)
	wantEntry(t, a, "token", id, []byte("v"))
}

func (s *suite) testEntryNoPlaintext(t *testing.T) {
	if s.opts.Dump == nil {
		t.Skip("no Options.Dump for this backend")
	}
	a, b, clk := s.entryStores(t)
	ids := []string{unique("entry-id"), unique("entry-id"), unique("entry-id")}
	values := [][]byte{[]byte(unique("entry-value")), []byte(unique("entry-value")), []byte(unique("entry-value"))}
	mustPutEntry(t, a, "token", ids[0], values[0], clk.now().Add(time.Hour))
	mustAddEntry(t, b, "nonce", ids[1], values[1], clk.now().Add(time.Hour), true)
	mustPutEntry(t, b, "token", ids[2], values[2], time.Time{})
	blobs := s.opts.Dump(t)
	for i := range ids {
		found := false
		for _, blob := range blobs {
			if bytes.Contains(blob, []byte(ids[i])) {
				t.Errorf("entry id %d appears in plaintext in the backing store", i)
			}
			if bytes.Contains(blob, values[i]) {
				t.Errorf("entry value %d appears in plaintext in the backing store", i)
			}
			found = found || bytes.Contains(blob, []byte(tokenstore.EntryIDHash(ids[i])))
		}
		if !found {
			t.Errorf("Dump shows no key with the hash of entry id %d: is the entry stored?", i)
		}
	}
}
