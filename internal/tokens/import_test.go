package tokens

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// googleEnv is a Manager of the Google Health preset over the simulated
// Google (which does not rotate refresh tokens) and a real store.
func googleEnv(t *testing.T) (*Manager, *googlesim.Server, tokenstore.Store) {
	t.Helper()
	sim, err := googlesim.Start(googlesim.Config{RateLimitPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	reg := provider.Registration{ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), RedirectURL: "https://gw.example/cb",
		Endpoints: provider.Endpoints{AuthURL: sim.AuthorizeURL(), TokenURL: sim.TokenURL(), RevokeURL: sim.RevokeURL(), APIBase: sim.APIBase()},
	}.WithDefaults(provider.GoogleHealth)
	store := newStore(t)
	return New(Config{Provider: provider.NewClient(reg, nil), Store: store}), sim, store
}

func imported(refreshToken, user string) *tokenstore.Record {
	return &tokenstore.Record{RefreshToken: refreshToken, UserID: user, Scopes: []string{"x"}}
}

func TestImportGoogleChecksOnceAndStores(t *testing.T) {
	m, sim, store := googleEnv(t)
	ctx := context.Background()
	tr := sim.MintTokens(googlesim.DefaultUserID)

	// A dry run refreshes once and stores nothing.
	if err := m.CheckImport(ctx, "alice", imported(tr.RefreshToken, googlesim.DefaultUserID), false); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := store.LoadConnection(ctx, tokenstore.KeyOf(m.name, "alice")); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("the dry run stored: %v", err)
	}
	if s := sim.Stats(); s.Refreshes != 1 {
		t.Fatalf("dry run refreshes: %+v", s)
	}

	// The line's user id is wrong: the identity endpoint's wins, with the
	// legacy Fitbit id beside it.
	rec, err := m.Import(ctx, "alice", imported(tr.RefreshToken, "someone-else"), false)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RefreshToken != tr.RefreshToken || rec.AccessToken == "" || rec.Status != tokenstore.StatusOK || rec.Refreshing != nil ||
		rec.IdentityHash != tokenstore.IdentityHash("alice") || rec.RefreshedAt.IsZero() || len(rec.Scopes) == 0 || rec.Scopes[0] == "x" ||
		rec.UserID != googlesim.DefaultUserID || rec.Extra["legacy_user_id"] != sim.LegacyUserID(googlesim.DefaultUserID) {
		t.Fatalf("imported %v", rec)
	}
	if s := sim.Stats(); s.Refreshes != 2 {
		t.Fatalf("import refreshes: %+v", s)
	}
	// The connection serves at once, from the cache.
	if e, err := m.Get(ctx, "alice"); err != nil || e.AccessToken() != rec.AccessToken {
		t.Fatalf("Get after import: %v", err)
	}
	// Never over an existing connection unless asked.
	if _, err := m.Import(ctx, "alice", imported(tr.RefreshToken, googlesim.DefaultUserID), false); !errors.Is(err, ErrExists) {
		t.Fatalf("second import: %v", err)
	}
	if err := m.CheckImport(ctx, "alice", imported(tr.RefreshToken, googlesim.DefaultUserID), false); !errors.Is(err, ErrExists) {
		t.Fatalf("second dry run: %v", err)
	}
	if _, err := m.Import(ctx, "alice", imported(tr.RefreshToken, googlesim.DefaultUserID), true); err != nil {
		t.Fatalf("replace: %v", err)
	}
}

func TestImportBadTokenLeavesStoreAsItWas(t *testing.T) {
	m, sim, store := googleEnv(t)
	ctx := context.Background()
	if err := m.CheckImport(ctx, "alice", imported("not-a-token", ""), false); !provider.IsInvalidGrant(err) {
		t.Fatalf("dry run of a bad token: %v", err)
	}
	if _, err := m.Import(ctx, "alice", imported("not-a-token", ""), false); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("import of a bad token: %v", err)
	}
	if _, err := store.LoadConnection(ctx, tokenstore.KeyOf(m.name, "alice")); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("a refused import is stored: %v", err)
	}
	if _, err := m.Get(ctx, "alice"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("a refused import is cached: %v", err)
	}

	// Replacing a connection with a bad token puts the connection back.
	good := sim.MintTokens(googlesim.DefaultUserID)
	before, err := m.Import(ctx, "alice", imported(good.RefreshToken, googlesim.DefaultUserID), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Import(ctx, "alice", imported("not-a-token", ""), true); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("replace with a bad token: %v", err)
	}
	after, err := m.LookupHash(ctx, tokenstore.IdentityHash("alice"))
	if err != nil || after.RefreshToken != before.RefreshToken || after.Status != tokenstore.StatusOK {
		t.Fatalf("after a refused replace: %v, %v", after, err)
	}
	if e, err := m.Get(ctx, "alice"); err != nil || e.AccessToken() != before.AccessToken {
		t.Fatalf("Get after a refused replace: %v", err)
	}
}

func TestImportFitbitRotatesThroughTheProtocol(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tr := e.sim.MintTokens("AAAAAA")
	if err := e.m.CheckImport(ctx, "alice", imported(tr.RefreshToken, ""), false); !errors.Is(err, ErrNotChecked) {
		t.Fatalf("dry run for a rotating provider: %v", err)
	}
	if s := e.sim.Stats(); s.Refreshes != 0 {
		t.Fatalf("the dry run redeemed a rotating token: %+v", s)
	}
	rec, err := e.m.Import(ctx, "alice", imported(tr.RefreshToken, ""), false)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RefreshToken == tr.RefreshToken || rec.UserID != "AAAAAA" {
		t.Fatalf("imported %v", rec)
	}
	// Write-ahead: the imported pair was stored with its marker before the
	// token endpoint was called, and the rotated pair after.
	if m, n := e.store.index("save:"+tr.RefreshToken), e.store.index("save:"+rec.RefreshToken); m < 0 || n < m {
		t.Fatalf("saves %v", e.store.events)
	}
}

func TestOperatorByHash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := e.connect(t, "alice", "AAAAAA", 8*time.Hour)
	hash := tokenstore.IdentityHash("alice")

	// Not cached here: by hash, from the store.
	got, err := e.m.LookupHash(ctx, hash)
	if err != nil || got.UserID != "AAAAAA" {
		t.Fatalf("LookupHash: %v, %v", got, err)
	}
	// A fresh pair is refreshed all the same when asked.
	if _, err := e.m.Get(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	rec, err := e.m.RefreshHash(ctx, hash)
	if err != nil || rec.RefreshToken == old.RefreshToken || rec.RefreshedAt.IsZero() {
		t.Fatalf("RefreshHash: %v, %v", rec, err)
	}
	if e.obs.count(ResultOK) != 1 {
		t.Fatalf("observer %v", e.obs.got)
	}
	// The cached entry follows (the identity is known from the cache).
	if en, err := e.m.Get(ctx, "alice"); err != nil || en.AccessToken() != rec.AccessToken {
		t.Fatalf("Get after RefreshHash: %v", err)
	}
	d, err := e.m.DisconnectHash(ctx, hash)
	if err != nil || !d.Existed || !d.Revoked {
		t.Fatalf("DisconnectHash: %+v, %v", d, err)
	}
	if _, err := e.m.Get(ctx, "alice"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Get after DisconnectHash: %v", err)
	}
	if _, err := e.m.LookupHash(ctx, hash); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("LookupHash after DisconnectHash: %v", err)
	}
}

// A rotating provider that does not answer the import's refresh may have
// rotated: the imported pair stays with its marker, and the recovery sweep
// repeats the identical request. A refused token under --replace puts the
// old connection back.
func TestImportFitbitFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := New(Config{Provider: provider.NewClient(e.reg, nil), Store: e.store, RetryBudget: 300 * time.Millisecond})
	tr := e.sim.MintTokens("AAAAAA")
	e.sim.FailNextRefreshes(100, fitbitsim.FaultError)
	if _, err := m.Import(ctx, "alice", imported(tr.RefreshToken, ""), false); !provider.IsTransient(err) || !strings.Contains(err.Error(), "recovery sweep") {
		t.Fatalf("import at a provider that does not answer: %v", err)
	}
	if st := e.stored(t, "alice"); st.Refreshing == nil || st.RefreshToken != tr.RefreshToken {
		t.Fatalf("kept %v", st)
	}
	e.sim.FailNextRefreshes(0, fitbitsim.FaultError) // no more faults
	if n, err := m.RecoverUnfinished(ctx, time.Second); err != nil || n != 1 {
		t.Fatalf("recovery: %d %v", n, err)
	}
	good := e.stored(t, "alice")
	if good.Refreshing != nil || good.RefreshToken == tr.RefreshToken || good.Status != tokenstore.StatusOK {
		t.Fatalf("recovered %v", good)
	}

	if _, err := m.Import(ctx, "alice", imported("dead-token", ""), true); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("replace with a refused token: %v", err)
	}
	if back := e.stored(t, "alice"); back.RefreshToken != good.RefreshToken || back.Status != tokenstore.StatusOK || back.Refreshing != nil {
		t.Fatalf("after a refused replace: %v", back)
	}
}

// changes is a Watcher that remembers every Change.
type changes struct {
	mu  sync.Mutex
	got []Change
}

func (c *changes) Changed(_ context.Context, ch Change) {
	c.mu.Lock()
	c.got = append(c.got, ch)
	c.mu.Unlock()
}

// The watcher (events, gauges) learns of an import as of a connection, and
// of nothing for a refused one.
func TestImportTellsTheWatcher(t *testing.T) {
	m, sim, _ := googleEnv(t)
	w := &changes{}
	m.SetWatcher(w)
	ctx := context.Background()
	if _, err := m.Import(ctx, "bob", imported("not-a-token", ""), false); !errors.Is(err, ErrNeedsReauth) {
		t.Fatal(err)
	}
	if len(w.got) != 0 {
		t.Fatalf("a refused import was watched: %+v", w.got)
	}
	tr := sim.MintTokens(googlesim.DefaultUserID)
	if _, err := m.Import(ctx, "alice", imported(tr.RefreshToken, ""), false); err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 1 || w.got[0].From != "" || w.got[0].To != tokenstore.StatusOK || w.got[0].IdentityHash != tokenstore.IdentityHash("alice") ||
		w.got[0].UserID != googlesim.DefaultUserID {
		t.Fatalf("changes %+v", w.got)
	}
}
