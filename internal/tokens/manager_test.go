package tokens

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// recStore wraps a real store: it counts reads, logs writes and can be told
// to fail writes.
type recStore struct {
	tokenstore.Store
	loads     atomic.Int64
	failSaves atomic.Bool
	// failPairSaves fails only saves without a refresh marker: the write of
	// a new pair, after the marker went in and the provider rotated.
	failPairSaves atomic.Bool

	mu     sync.Mutex
	events []string // "save:<refresh token>", and whatever the test appends
}

var errDiskFull = errors.New("disk full")

func (s *recStore) LoadConnection(ctx context.Context, k tokenstore.Key) (*tokenstore.Record, error) {
	s.loads.Add(1)
	return s.Store.LoadConnection(ctx, k)
}

func (s *recStore) SaveConnection(ctx context.Context, rec *tokenstore.Record) error {
	if s.failSaves.Load() || (s.failPairSaves.Load() && rec.Refreshing == nil) {
		return errDiskFull
	}
	if err := s.Store.SaveConnection(ctx, rec); err != nil {
		return err
	}
	s.note("save:" + rec.RefreshToken)
	return nil
}

func (s *recStore) note(ev string) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
}

func (s *recStore) index(ev string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.events {
		if e == ev {
			return i
		}
	}
	return -1
}

// results is an Observer that remembers and announces every result.
type results struct {
	mu  sync.Mutex
	got []Result
	ch  chan Result
}

func newResults() *results { return &results{ch: make(chan Result, 1000)} }

func (r *results) Refreshed(result Result, took time.Duration) {
	r.mu.Lock()
	r.got = append(r.got, result)
	r.mu.Unlock()
	r.ch <- result
}

func (r *results) count(result Result) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.got {
		if g == result {
			n++
		}
	}
	return n
}

type env struct {
	sim   *fitbitsim.Server
	inner tokenstore.Store
	store *recStore
	obs   *results
	m     *Manager
	reg   provider.Registration
}

func newStore(t *testing.T) tokenstore.Store {
	t.Helper()
	k := sha256.Sum256([]byte("tokens test key"))
	kr, err := tokenstore.NewKeyring([][]byte{k[:]})
	if err != nil {
		t.Fatal(err)
	}
	return storagestore.New(&certmagic.FileStorage{Path: t.TempDir()}, kr, "")
}

func simReg(sim *fitbitsim.Server, base string) provider.Registration {
	if base == "" {
		base = sim.URL()
	}
	return provider.Registration{
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
		RedirectURL: "https://gw.example/fitbit/callback",
		Endpoints: provider.Endpoints{
			AuthURL: base + "/oauth2/authorize", TokenURL: base + "/oauth2/token",
			RevokeURL: base + "/oauth2/revoke", APIBase: base,
		},
	}.WithDefaults(provider.Fitbit)
}

// newEnv starts a simulator (GraceWindow -1: any reuse of a rotated refresh
// token is invalid_grant) and a Manager over a real encrypted store.
func newEnv(t *testing.T) *env {
	t.Helper()
	sim, err := fitbitsim.Start(fitbitsim.Config{GraceWindow: -1, RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return newEnvAt(t, sim, "")
}

// newEnvAt builds the Manager for sim, reaching its token endpoint at base.
func newEnvAt(t *testing.T, sim *fitbitsim.Server, base string) *env {
	e := &env{sim: sim, inner: newStore(t), obs: newResults()}
	e.store = &recStore{Store: e.inner}
	e.reg = simReg(sim, base)
	e.m = New(Config{Provider: provider.NewClient(e.reg, nil), Store: e.store, Observer: e.obs})
	return e
}

// connect stores a connection for identity as the connect flow would, with
// the given remaining lifetime as its recorded expiry.
func (e *env) connect(t *testing.T, identity, user string, expiresIn time.Duration) *tokenstore.Record {
	t.Helper()
	tr := e.sim.MintTokens(user)
	rec := e.record(identity, tr, expiresIn)
	if cur, err := e.inner.LoadConnection(context.Background(), tokenstore.KeyOfRecord(rec)); err == nil {
		rec.Version = cur.Version // replace, as a reconnect does
	}
	if err := e.inner.SaveConnection(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func (e *env) record(identity string, tr fitbitsim.TokenResponse, expiresIn time.Duration) *tokenstore.Record {
	now := time.Now()
	return &tokenstore.Record{
		Provider: "fitbit", IdentityHash: tokenstore.IdentityHash(identity), UserID: tr.UserID,
		Scopes: []string{"activity", "heartrate", "profile", "sleep"}, AccessToken: tr.AccessToken,
		RefreshToken: tr.RefreshToken, TokenType: "Bearer", Expiry: now.Add(expiresIn),
		Status: tokenstore.StatusOK, ConnectedAt: now,
	}
}

func (e *env) stored(t *testing.T, identity string) *tokenstore.Record {
	t.Helper()
	rec, err := e.inner.LoadConnection(context.Background(), tokenstore.KeyOf("fitbit", identity))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestGetLoadsOnceThenServesFromCache(t *testing.T) {
	e := newEnv(t)
	rec := e.connect(t, "alice", "AAAAAA", 8*time.Hour)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		got, err := e.m.Get(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got.AccessToken() != rec.AccessToken || got.Authorization() != "Bearer "+rec.AccessToken {
			t.Fatalf("entry %v", got.Record())
		}
		if got.Record().RefreshToken != rec.RefreshToken {
			t.Fatal("wrong record")
		}
	}
	if n := e.store.loads.Load(); n != 1 {
		t.Fatalf("store read %d times, want 1", n)
	}
	if e.m.Cached() != 1 {
		t.Fatalf("cached %d", e.m.Cached())
	}
	if st := e.sim.Stats(); st.Refreshes != 0 {
		t.Fatalf("a fresh token was refreshed: %+v", st)
	}
	if len(e.obs.got) != 0 {
		t.Fatalf("observer got %v", e.obs.got)
	}
	if _, err := e.m.Get(ctx, "bob"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("unknown identity: %v", err)
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	e := newEnv(t)
	e.connect(t, "alice", "AAAAAA", 8*time.Hour)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := e.m.Get(context.Background(), "alice"); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	// singleflight shares concurrent loads; late arrivals hit the cache.
	if n := e.store.loads.Load(); n < 1 || n > 50 {
		t.Fatalf("loads %d", n)
	}
	if e.sim.Stats().Refreshes != 0 {
		t.Fatal("refreshed")
	}
}

func TestTokenWithinSkewRefreshedOnceAndPersistedBeforeUse(t *testing.T) {
	e := newEnv(t)
	old := e.connect(t, "alice", "AAAAAA", time.Minute) // within the default 5m skew
	ctx := context.Background()

	got, err := e.m.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.store.note("get returned")
	if got.AccessToken() == old.AccessToken || got.Record().RefreshToken == old.RefreshToken {
		t.Fatal("not refreshed")
	}
	saved := e.store.index("save:" + got.Record().RefreshToken)
	if saved < 0 || saved > e.store.index("get returned") {
		t.Fatalf("new pair not saved before Get returned: events %v", e.store.events)
	}
	st := e.stored(t, "alice")
	if st.RefreshToken != got.Record().RefreshToken || st.AccessToken != got.AccessToken() || st.Status != tokenstore.StatusOK {
		t.Fatal("stored record is not the new pair")
	}
	if st.RefreshedAt.IsZero() || !st.Expiry.After(time.Now().Add(7*time.Hour)) || st.UserID != "AAAAAA" {
		t.Fatalf("stored %v", st)
	}
	if s := e.sim.Stats(); s.Refreshes != 1 {
		t.Fatalf("refreshes %d", s.Refreshes)
	}
	// Now fresh: no further refresh.
	again, err := e.m.Get(ctx, "alice")
	if err != nil || again.AccessToken() != got.AccessToken() {
		t.Fatalf("second Get: %v", err)
	}
	if s := e.sim.Stats(); s.Refreshes != 1 || s.InvalidGrants != 0 {
		t.Fatalf("stats %+v", s)
	}
	if e.obs.count(ResultOK) != 1 {
		t.Fatalf("observer %v", e.obs.got)
	}
	// The new token works at the API.
	if code := apiStatus(t, e.sim, got.Authorization()); code != 200 {
		t.Fatalf("API answered %d", code)
	}
}

func apiStatus(t *testing.T, sim *fitbitsim.Server, auth string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", sim.APIBase()+"/1/user/-/profile.json", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestManyConcurrentGetsOneRefresh(t *testing.T) {
	e := newEnv(t)
	e.connect(t, "alice", "AAAAAA", time.Minute)
	// Load into the cache first so every goroutine sees the expiring entry.
	if _, err := e.m.Lookup(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	tokens := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			got, err := e.m.Get(context.Background(), "alice")
			if err != nil {
				t.Error(err)
				return
			}
			tokens[i] = got.AccessToken()
		}(i)
	}
	close(start)
	wg.Wait()
	for i := 1; i < n; i++ {
		if tokens[i] != tokens[0] {
			t.Fatalf("goroutine %d got another token", i)
		}
	}
	if s := e.sim.Stats(); s.Refreshes != 1 || s.InvalidGrants != 0 || s.GraceReplays != 0 {
		t.Fatalf("stats %+v", s)
	}
	if e.stored(t, "alice").AccessToken != tokens[0] {
		t.Fatal("stored token differs")
	}
}

func TestRefreshOfStaleTokenUsesPeerResult(t *testing.T) {
	e := newEnv(t)
	// Another instance has already refreshed: the store holds a fresh pair.
	cur := e.connect(t, "alice", "AAAAAA", 8*time.Hour)
	got, err := e.m.Refresh(context.Background(), "alice", newEntry(&tokenstore.Record{AccessToken: "the-token-that-upstream-rejected"}, false))
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken() != cur.AccessToken {
		t.Fatal("not the stored token")
	}
	if e.sim.Stats().Refreshes != 0 {
		t.Fatal("refreshed although a peer had")
	}
	if e.obs.count(ResultPeer) != 1 {
		t.Fatalf("observer %v", e.obs.got)
	}
	// Refresh of the current token does refresh.
	got2, err := e.m.Refresh(context.Background(), "alice", newEntry(cur, false))
	if err != nil || got2.AccessToken() == cur.AccessToken {
		t.Fatalf("refresh of current token: %v", err)
	}
	if e.sim.Stats().Refreshes != 1 || e.obs.count(ResultOK) != 1 {
		t.Fatal("want one refresh")
	}
}

func TestInvalidGrantMarksNeedsReauth(t *testing.T) {
	e := newEnv(t)
	old := e.connect(t, "alice", "AAAAAA", time.Minute)
	e.sim.RevokeUser("AAAAAA")
	ctx := context.Background()

	if _, err := e.m.Get(ctx, "alice"); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("Get: %v", err)
	}
	st := e.stored(t, "alice")
	if st.Status != tokenstore.StatusNeedsReauth || st.RefreshToken != old.RefreshToken {
		t.Fatalf("stored %v", st)
	}
	if s := e.sim.Stats(); s.InvalidGrants != 1 {
		t.Fatalf("stats %+v", s)
	}
	if e.obs.count(ResultInvalidGrant) != 1 {
		t.Fatalf("observer %v", e.obs.got)
	}
	// Later Gets, from the cache or through a new manager (fresh cache), do
	// not contact the token endpoint.
	if _, err := e.m.Get(ctx, "alice"); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("second Get: %v", err)
	}
	m2 := New(Config{Provider: provider.NewClient(e.reg, nil), Store: e.inner})
	if _, err := m2.Get(ctx, "alice"); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("new manager: %v", err)
	}
	if _, err := m2.Refresh(ctx, "alice", newEntry(old, false)); !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("Refresh: %v", err)
	}
	if s := e.sim.Stats(); s.InvalidGrants != 1 || s.Refreshes != 0 {
		t.Fatalf("token endpoint contacted again: %+v", s)
	}
	// Reconnecting (the connect flow's Save) makes it usable again.
	tr := e.sim.MintTokens("AAAAAA")
	if err := e.m.Connect(ctx, "alice", e.record("alice", tr, 8*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := e.m.Get(ctx, "alice")
	if err != nil || got.AccessToken() != tr.AccessToken {
		t.Fatalf("after reconnect: %v", err)
	}
}

func TestStoreFailureAfterRefreshKeepsPairInMemory(t *testing.T) {
	e := newEnv(t)
	old := e.connect(t, "alice", "AAAAAA", time.Minute)
	ctx := context.Background()
	e.store.failPairSaves.Store(true)

	_, err := e.m.Get(ctx, "alice")
	var se *StoreError
	if !errors.As(err, &se) || !errors.Is(err, errDiskFull) {
		t.Fatalf("Get: %v", err)
	}
	if e.sim.Stats().Refreshes != 1 || e.obs.count(ResultStoreError) != 1 {
		t.Fatal("want one refresh reported as store_error")
	}
	// The rotated pair exists only in memory; it is not lost.
	held, err := e.m.Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if held.RefreshToken == old.RefreshToken {
		t.Fatal("the new pair was dropped")
	}
	if e.stored(t, "alice").RefreshToken != old.RefreshToken {
		t.Fatal("store changed although saves fail")
	}
	// Still failing: the next Get retries the write, not the refresh.
	if _, err := e.m.Get(ctx, "alice"); !errors.As(err, &se) {
		t.Fatalf("Get while the store still fails: %v", err)
	}
	if e.sim.Stats().Refreshes != 1 {
		t.Fatal("refreshed over an unsaved pair")
	}

	e.store.failPairSaves.Store(false)
	got, err := e.m.Get(ctx, "alice")
	if err != nil {
		t.Fatalf("Get after recovery: %v", err)
	}
	if got.Record().RefreshToken != held.RefreshToken || got.AccessToken() != held.AccessToken {
		t.Fatal("not the held pair")
	}
	if st := e.stored(t, "alice"); st.RefreshToken != held.RefreshToken {
		t.Fatal("held pair not stored")
	}
	if s := e.sim.Stats(); s.Refreshes != 1 || s.InvalidGrants != 0 {
		t.Fatalf("stats %+v", s)
	}
	// And the stored refresh token is the live one.
	if _, err := provider.NewClient(e.reg, nil).Refresh(ctx, held.RefreshToken); err != nil {
		t.Fatalf("held refresh token is dead: %v", err)
	}
}

// gatedSim serves sim over httptest, calling hook (if set) before each
// token-endpoint request is answered.
func gatedSim(t *testing.T, hook func(r *http.Request)) (*fitbitsim.Server, string) {
	sim := fitbitsim.New(fitbitsim.Config{GraceWindow: -1, RateLimitPerHour: -1})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" && hook != nil {
			hook(r)
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func TestCallerCancelDoesNotAbortRefresh(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sim, base := gatedSim(t, func(*http.Request) {
		once.Do(func() { close(entered) })
		<-release
	})
	e := newEnvAt(t, sim, base)
	old := e.connect(t, "alice", "AAAAAA", time.Minute)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.m.Get(ctx, "alice")
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v", err)
	}
	close(release)
	if r := <-e.obs.ch; r != ResultOK {
		t.Fatalf("refresh result %q", r)
	}
	st := e.stored(t, "alice")
	if st.RefreshToken == old.RefreshToken {
		t.Fatal("abandoned refresh did not store the new pair")
	}
	got, err := e.m.Get(context.Background(), "alice")
	if err != nil || got.Record().RefreshToken != st.RefreshToken {
		t.Fatalf("Get: %v", err)
	}
	if s := sim.Stats(); s.Refreshes != 1 || s.InvalidGrants != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A user reconnects (a new code exchange supersedes the old chain) while a
// refresh with the old refresh token is on its way: the reconnect waits for
// the connection's lock, the refresh ends (invalid_grant: the chain was
// replaced), and the reconnected pair is what stays.
func TestReconnectDuringRefreshWins(t *testing.T) {
	var e *env
	var once sync.Once
	var fresh *tokenstore.Record
	connected := make(chan error, 1)
	sim, base := gatedSim(t, func(*http.Request) {
		once.Do(func() {
			tr := e.sim.MintTokens("AAAAAA") // the user consented again at Fitbit
			fresh = e.record("alice", tr, 8*time.Hour)
			go func() { connected <- e.m.Connect(context.Background(), "alice", fresh) }()
		})
	})
	e = newEnvAt(t, sim, base)
	e.connect(t, "alice", "AAAAAA", time.Minute)

	if _, err := e.m.Get(context.Background(), "alice"); err != nil && !errors.Is(err, ErrNeedsReauth) {
		t.Fatalf("Get during a reconnect: %v", err)
	}
	if err := <-connected; err != nil {
		t.Fatal(err)
	}
	got, err := e.m.Get(context.Background(), "alice")
	if err != nil || got.AccessToken() != fresh.AccessToken {
		t.Fatalf("after the reconnect: %v", err)
	}
	st := e.stored(t, "alice")
	if st.Status != tokenstore.StatusOK || st.RefreshToken != fresh.RefreshToken || st.Refreshing != nil {
		t.Fatalf("the reconnected pair was overwritten: %v", st)
	}
}

func TestRefreshTransientErrorKeepsPair(t *testing.T) {
	sim, base := gatedSim(t, nil)
	e := newEnvAt(t, sim, base)
	old := e.connect(t, "alice", "AAAAAA", time.Minute)
	// Point the manager at a token endpoint that answers 503.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
	}))
	defer down.Close()
	reg := e.reg
	reg.Endpoints.TokenURL = down.URL + "/oauth2/token"
	m := New(Config{Provider: provider.NewClient(reg, nil), Store: e.store, Observer: e.obs, RetryBudget: 300 * time.Millisecond})
	_, err := m.Get(context.Background(), "alice")
	if !provider.IsTransient(err) {
		t.Fatalf("Get: %v", err)
	}
	if e.obs.count(ResultTransient) != 1 {
		t.Fatalf("observer %v", e.obs.got)
	}
	if st := e.stored(t, "alice"); st.RefreshToken != old.RefreshToken || st.Status != tokenstore.StatusOK {
		t.Fatal("pair changed on a transient failure")
	}
}

func TestDisconnectIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.connect(t, "alice", "AAAAAA", 8*time.Hour)
	ctx := context.Background()
	if _, err := e.m.Get(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	d, err := e.m.Disconnect(ctx, "alice")
	if err != nil || !d.Existed || !d.Revoked || d.Reason != "" {
		t.Fatalf("Disconnect: %+v %v", d, err)
	}
	if e.sim.Stats().Revocations != 1 {
		t.Fatal("not revoked at the provider")
	}
	if _, err := e.m.Get(ctx, "alice"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Get after disconnect: %v", err)
	}
	d, err = e.m.Disconnect(ctx, "alice")
	if err != nil || d.Existed {
		t.Fatalf("second Disconnect: %+v %v", d, err)
	}
	if e.sim.Stats().Revocations != 1 {
		t.Fatal("revoked twice")
	}
}

func TestIdentitiesAreIsolated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := map[string]string{}
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("user-%d", i)
		want[id] = e.connect(t, id, fmt.Sprintf("U%05d", i), 8*time.Hour).AccessToken
	}
	for id, tok := range want {
		got, err := e.m.Get(ctx, id)
		if err != nil || got.AccessToken() != tok {
			t.Fatalf("%s got another token (%v)", id, err)
		}
	}
}

func TestSetObserverAndNilObserver(t *testing.T) {
	e := newEnv(t)
	e.connect(t, "alice", "AAAAAA", time.Minute)
	e.m.SetObserver(nil)
	if _, err := e.m.Get(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if len(e.obs.got) != 0 {
		t.Fatal("replaced observer still called")
	}
}

// Peek hands out only what is in memory: no store read, no refresh, even
// for an expired token.
func TestPeekReadsNothing(t *testing.T) {
	e := newEnv(t)
	e.connect(t, "alice", "AAAAAA", time.Minute) // within the refresh skew
	if got := e.m.Peek("alice"); got != nil {
		t.Fatalf("not loaded yet: Peek = %v", got.Record())
	}
	if e.store.loads.Load() != 0 {
		t.Fatal("Peek read the store")
	}
	if _, err := e.m.Get(context.Background(), "alice"); err != nil { // loads and refreshes
		t.Fatal(err)
	}
	loads, refreshes := e.store.loads.Load(), e.sim.Stats().Refreshes
	if got := e.m.Peek("alice"); got == nil || got.Record().UserID != "AAAAAA" {
		t.Fatalf("cached: Peek = %v", got)
	}
	if e.store.loads.Load() != loads || e.sim.Stats().Refreshes != refreshes {
		t.Fatal("Peek read the store or refreshed")
	}
}
