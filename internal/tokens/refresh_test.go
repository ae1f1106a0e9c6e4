package tokens

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// cluster is several Managers ("instances") over one store directory and
// one simulated Fitbit with its default grace window and a fake clock.
type cluster struct {
	sim   *fitbitsim.Server
	clock *fakeClock
	reg   provider.Registration
	dir   string
	keys  *tokenstore.Keyring
	obs   *results
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	clock := &fakeClock{now: time.Now()}
	sim, err := fitbitsim.Start(fitbitsim.Config{RateLimitPerHour: -1, Now: clock.Now, RecoveryEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	return &cluster{sim: sim, clock: clock, reg: simReg(sim, ""), dir: t.TempDir(), keys: keys, obs: newResults()}
}

// instance is a new Manager over the shared store, with its own cache.
func (c *cluster) instance(t *testing.T, recover bool) *Manager {
	store := storagestore.New(&certmagic.FileStorage{Path: c.dir}, c.keys, "")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return New(Config{Provider: provider.NewClient(c.reg, nil), Store: store, Observer: c.obs,
		Recover: recover, RetryBudget: 2 * time.Second, Context: ctx, Instance: t.Name()})
}

// connect stores alice's connection, minted at the simulator, expiring soon.
func (c *cluster) connect(t *testing.T, m *Manager) fitbitsim.TokenResponse {
	t.Helper()
	tr := c.sim.MintTokens("AAAAAA")
	rec := &tokenstore.Record{UserID: "AAAAAA", AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		Expiry: time.Now().Add(time.Minute), Status: tokenstore.StatusOK}
	if err := m.Connect(context.Background(), "alice", rec); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (c *cluster) stored(t *testing.T) *tokenstore.Record {
	t.Helper()
	store := storagestore.New(&certmagic.FileStorage{Path: c.dir}, c.keys, "")
	rec, err := store.LoadConnection(context.Background(), tokenstore.KeyOf("fitbit", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Two instances, each with 50 concurrent requests at expiry: one rotation.
func TestInstancesShareOneRefresh(t *testing.T) {
	c := newCluster(t)
	a, b := c.instance(t, false), c.instance(t, false)
	c.connect(t, a)
	var wg sync.WaitGroup
	tokens := make(chan string, 100)
	for _, m := range []*Manager{a, b, a, b} {
		for i := 0; i < 25; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := m.Get(context.Background(), "alice")
				if err != nil {
					t.Error(err)
					return
				}
				tokens <- e.AccessToken()
			}()
		}
	}
	wg.Wait()
	close(tokens)
	seen := map[string]bool{}
	for tok := range tokens {
		seen[tok] = true
	}
	st := c.sim.Stats()
	if st.Refreshes != 1 || st.InvalidGrants != 0 || st.GraceReplays != 0 || len(seen) != 1 {
		t.Fatalf("want one rotation shared by all; simulator %+v, %d distinct tokens", st, len(seen))
	}
	if rec := c.stored(t); rec.Refreshing != nil || !seen[rec.AccessToken] {
		t.Fatalf("stored %+v", rec)
	}
}

// Fitbit rotates but the answer is lost (the connection drops): the retry
// repeats the identical request and the grace window hands back that pair.
func TestLostAnswerIsRetriedIdentically(t *testing.T) {
	c := newCluster(t)
	m := c.instance(t, false)
	c.connect(t, m)
	c.sim.FailNextRefreshes(1, fitbitsim.FaultDropAfterIssue)
	e, err := m.Get(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	st := c.sim.Stats()
	if st.Refreshes != 1 || st.GraceReplays != 1 || st.InvalidGrants != 0 {
		t.Fatalf("simulator %+v", st)
	}
	if rec := c.stored(t); rec.RefreshToken != e.Record().RefreshToken || rec.Refreshing != nil {
		t.Fatal("stored pair is not the one handed out")
	}
	// And it is the live pair.
	if _, err := provider.NewClient(c.reg, nil).Refresh(context.Background(), e.Record().RefreshToken); err != nil {
		t.Fatalf("stored refresh token is dead: %v", err)
	}
}

// 5xx answers are retried within the budget.
func TestTransientErrorsAreRetried(t *testing.T) {
	c := newCluster(t)
	m := c.instance(t, false)
	c.connect(t, m)
	c.sim.FailNextRefreshes(2, fitbitsim.FaultError)
	if _, err := m.Get(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if st := c.sim.Stats(); st.Refreshes != 1 || st.FaultsErrors != 2 {
		t.Fatalf("simulator %+v", st)
	}
}

// crashMidRefresh plays an instance that wrote its marker, had the refresh
// processed by Fitbit, and died before storing the answer. It returns the
// pair Fitbit issued, which no one has seen.
func (c *cluster) crashMidRefresh(t *testing.T) fitbitsim.TokenResponse {
	t.Helper()
	store := storagestore.New(&certmagic.FileStorage{Path: c.dir}, c.keys, "")
	ctx := context.Background()
	rec := c.stored(t)
	rec.Refreshing = &tokenstore.RefreshMarker{Since: c.clock.Now(), TokenHash: tokenstore.TokenHash(rec.RefreshToken), Instance: "dead"}
	if err := store.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	g, err := provider.NewClient(c.reg, nil).Refresh(ctx, rec.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	return fitbitsim.TokenResponse{AccessToken: g.AccessToken, RefreshToken: g.RefreshToken}
}

// Within the grace window, the sweep completes the dead refresh with the
// very pair Fitbit issued to the dead instance.
func TestRecoverySweepCompletesDeadRefreshInGraceWindow(t *testing.T) {
	c := newCluster(t)
	m := c.instance(t, false)
	c.connect(t, m)
	lost := c.crashMidRefresh(t)
	since := c.clock.Now()
	time.Sleep(20 * time.Millisecond) // the replay answers later than the lost original

	survivor := c.instance(t, false)
	n, err := survivor.RecoverUnfinished(context.Background(), time.Second)
	if err != nil || n != 1 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	rec := c.stored(t)
	if rec.RefreshToken != lost.RefreshToken || rec.AccessToken != lost.AccessToken || rec.Refreshing != nil || rec.Status != tokenstore.StatusOK {
		t.Fatalf("stored %v, want the lost pair", rec)
	}
	// The replayed answer carries the original expires_in: the expiry counts
	// from the first send (the marker), not from the replay.
	if limit := since.Add(fitbitsim.DefaultAccessTokenLifetime); rec.Expiry.After(limit) {
		t.Fatalf("expiry %v is past the pair's real expiry %v", rec.Expiry, limit)
	}
	if st := c.sim.Stats(); st.Refreshes != 1 || st.GraceReplays != 1 || st.InvalidGrants != 0 {
		t.Fatalf("simulator %+v", st)
	}
	if c.obs.count(ResultRecovered) != 1 {
		t.Fatalf("results %v", c.obs.got)
	}
	// Nothing left to do.
	if n, _ := survivor.RecoverUnfinished(context.Background(), time.Second); n != 0 {
		t.Fatalf("second sweep recovered %d", n)
	}
}

// Past the grace window the old token is refused; the recovery endpoint
// gives the user's chain back.
func TestRecoveryEndpointAfterGraceWindow(t *testing.T) {
	c := newCluster(t)
	m := c.instance(t, true)
	c.connect(t, m)
	lost := c.crashMidRefresh(t)
	c.clock.Add(3 * time.Minute)

	survivor := c.instance(t, true)
	if n, err := survivor.RecoverUnfinished(context.Background(), time.Second); err != nil || n != 1 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	rec := c.stored(t)
	if rec.Status != tokenstore.StatusOK || rec.Refreshing != nil || rec.RefreshToken == lost.RefreshToken {
		t.Fatalf("stored %v", rec)
	}
	if st := c.sim.Stats(); st.Recoveries != 1 {
		t.Fatalf("simulator %+v", st)
	}
	if _, err := provider.NewClient(c.reg, nil).Refresh(context.Background(), rec.RefreshToken); err != nil {
		t.Fatalf("recovered refresh token is dead: %v", err)
	}
}

// Without the recovery endpoint, a dead refresh past the grace window ends
// in needs_reauth — said clearly, not retried forever.
func TestDeadRefreshPastGraceWithoutRecoveryNeedsReauth(t *testing.T) {
	c := newCluster(t)
	m := c.instance(t, false)
	c.connect(t, m)
	c.crashMidRefresh(t)
	c.clock.Add(3 * time.Minute)
	if _, err := c.instance(t, false).Get(context.Background(), "alice"); err != ErrNeedsReauth {
		t.Fatalf("Get: %v", err)
	}
	if rec := c.stored(t); rec.Status != tokenstore.StatusNeedsReauth || rec.Refreshing != nil {
		t.Fatalf("stored %v", rec)
	}
	if keys, _ := storagestore.New(&certmagic.FileStorage{Path: c.dir}, c.keys, "").ListRefreshing(context.Background()); len(keys) != 0 {
		t.Fatalf("marker index left: %v", keys)
	}
}

// A request that finds the marker itself (no sweep yet) recovers too.
func TestRequestFindingMarkerRecovers(t *testing.T) {
	c := newCluster(t)
	m := c.instance(t, false)
	c.connect(t, m)
	lost := c.crashMidRefresh(t)
	e, err := c.instance(t, false).Get(context.Background(), "alice")
	if err != nil || e.Record().RefreshToken != lost.RefreshToken {
		t.Fatalf("Get: %v", err)
	}
}

// While an instance is mid-refresh (lock held), another's sweep leaves it be.
func TestSweepSkipsRefreshInProgress(t *testing.T) {
	c := newCluster(t)
	a := c.instance(t, false)
	c.connect(t, a)
	c.sim.FailNextRefreshes(1, fitbitsim.FaultDelay(1500*time.Millisecond))
	done := make(chan error, 1)
	go func() {
		_, err := a.Get(context.Background(), "alice")
		done <- err
	}()
	// Wait until a's marker is in.
	store := storagestore.New(&certmagic.FileStorage{Path: c.dir}, c.keys, "")
	for deadline := time.Now().Add(5 * time.Second); ; {
		if keys, _ := store.ListRefreshing(context.Background()); len(keys) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no marker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, _ := c.instance(t, false).RecoverUnfinished(context.Background(), 200*time.Millisecond); n != 0 {
		t.Fatalf("sweep took over a live refresh (%d)", n)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := c.sim.Stats(); st.Refreshes != 1 || st.GraceReplays != 0 || st.InvalidGrants != 0 {
		t.Fatalf("simulator %+v", st)
	}
}

// A pair recovered from the grace window after its own lifetime ran out is
// rotated once more before anyone uses it.
func TestRecoveredStalePairIsRotatedAgain(t *testing.T) {
	c := newCluster(t)
	c.sim.SetAccessTokenLifetime(time.Minute)
	m := c.instance(t, false)
	c.connect(t, m)
	lost := c.crashMidRefresh(t)
	c.clock.Add(90 * time.Second) // the pair's minute is over; the grace window (2 min) is not

	store := storagestore.New(&certmagic.FileStorage{Path: c.dir}, c.keys, "")
	survivor := New(Config{Provider: provider.NewClient(c.reg, nil), Store: store, Now: c.clock.Now, Skew: 10 * time.Second})
	e, err := survivor.Get(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	// (Its expiry cannot be checked here: x/oauth2 dates new tokens by the
	// real clock, the simulator and this manager by the test's.)
	if e.AccessToken() == lost.AccessToken {
		t.Fatal("handed out the recovered pair although it had expired")
	}
	if st := c.sim.Stats(); st.Refreshes != 2 || st.GraceReplays != 1 || st.InvalidGrants != 0 {
		t.Fatalf("simulator %+v", st)
	}
}
