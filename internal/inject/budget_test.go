package inject

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The budgets and the simulators read one simtest.Clock (time as data)
// standing 30 seconds into a clock minute: a minute's budget is back 30
// seconds later, an hour's 44 minutes 30 seconds later.

// limits counts a Budget's 429s.
type limits struct{ local, upstream int }

func (l *limits) observe(local bool) {
	if local {
		l.local++
	} else {
		l.upstream++
	}
}

// googleGateway is one gateway instance's injecting transport for the
// Google Health registration, over store, with budget windows w.
func googleGateway(t *testing.T, sim *googlesim.Server, store tokenstore.Store, w ratelimit.Windows, clk *simtest.Clock, l *limits) (*Transport, *tokens.Manager) {
	t.Helper()
	reg := provider.Registration{ClientID: "id", ClientSecret: "s", RedirectURL: "http://x/cb",
		Endpoints: provider.Endpoints{APIBase: sim.URL()}}.WithDefaults(provider.GoogleHealth)
	m := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: store})
	b := &ratelimit.Budget{Windows: w, PerUser: ratelimit.Window{Limit: provider.GoogleHealth.RateLimit, Period: provider.GoogleHealth.RateWindow},
		Now: clk.Now, OnLimited: l.observe}
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	return &Transport{Base: base, Tokens: m, Provider: m.Provider(), Now: clk.Now, Budget: b, RefreshOn: provider.GoogleHealth.RefreshOn,
		Identity: func(r *http.Request) string { return r.Header.Get("X-Test-Identity") }}, m
}

func startGoogle(t *testing.T, clk *simtest.Clock, perMinute int) *googlesim.Server {
	t.Helper()
	sim, err := googlesim.Start(googlesim.Config{Now: clk.Now, RateLimitPerMinute: perMinute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// connectGoogle stores alice's connection to the simulated Google user.
func connectGoogle(t *testing.T, m *tokens.Manager, sim *googlesim.Server) {
	t.Helper()
	tok := sim.MintTokens(googlesim.DefaultUserID, sim.AllScopes()...)
	rec := &tokenstore.Record{Provider: m.Provider().Reg.Name, IdentityHash: tokenstore.IdentityHash("alice"), UserID: googlesim.DefaultUserID,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(time.Hour), Status: tokenstore.StatusOK}
	if err := m.Connect(context.Background(), "alice", rec); err != nil {
		t.Fatal(err)
	}
}

// aliceOnGoogle is one gateway instance over a file store, with alice
// connected to a simulated Google that allows perMinute calls (0: its
// own 300).
func aliceOnGoogle(t *testing.T, perMinute int) (*simtest.Clock, *googlesim.Server, *Transport, *limits) {
	clk := simtest.NewClock()
	sim := startGoogle(t, clk, perMinute)
	l := new(limits)
	tr, m := googleGateway(t, sim, fileStore(t), ratelimit.NewMemoryWindows(), clk, l)
	connectGoogle(t, m, sim)
	return clk, sim, tr, l
}

func fileStore(t *testing.T) tokenstore.Store {
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	return storagestore.New(&certmagic.FileStorage{Path: t.TempDir()}, keys, "")
}

// burst sends n /v4/ calls of alice, round robin over the gateways, and
// checks that exactly want reach Google and the rest get the gateway's
// 429 in Google's dialect, with a Retry-After within a second of when the
// budget is back (retryAfter).
func burst(t *testing.T, sim *googlesim.Server, gateways []*Transport, n, want int, retryAfter time.Duration) {
	t.Helper()
	before := sim.Stats().APIRequests
	ok, refused := 0, 0
	for i := range n {
		a := roundTrip(t, gateways[i%len(gateways)], newReq(t, "GET", sim.URL()+"/v4/users/me/identity", "alice", nil))
		switch a.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			var st struct {
				Error struct {
					Status  string
					Details []struct{ Reason string }
				}
			}
			if err := json.Unmarshal(a.body, &st); err != nil || st.Error.Status != "RESOURCE_EXHAUSTED" || len(st.Error.Details) == 0 || st.Error.Details[0].Reason != "RATE_LIMIT_EXCEEDED" {
				t.Fatalf("local 429 not google.rpc.Status RESOURCE_EXHAUSTED: %s", a.body)
			}
			ra, err := strconv.Atoi(a.header.Get("Retry-After"))
			if err != nil || (time.Duration(ra)*time.Second-retryAfter).Abs() > time.Second {
				t.Fatalf("Retry-After %q, want %v to a second", a.header.Get("Retry-After"), retryAfter)
			}
			if a.header.Get(ratelimit.HeaderLimit) != "" {
				t.Fatalf("Fitbit's headers on a Google-dialect answer: %v", a.header)
			}
		default:
			t.Fatalf("call %d: %d %s", i, a.status, a.body)
		}
	}
	st := sim.Stats()
	if ok != want || refused != n-want || st.APIRequests-before != int64(want) || st.API429 != 0 {
		t.Fatalf("%d calls: %d answered, %d refused; Google saw %d (%d answered 429); want %d to reach Google",
			n, ok, refused, st.APIRequests-before, st.API429, want)
	}
}

// 400 calls in one minute for one Google identity: exactly 300 reach
// Google, 100 are answered 429 by the gateway, Retry-After the 30 seconds
// until the next clock minute.
func TestGoogleBudgetBurst(t *testing.T) {
	clk, sim, tr, l := aliceOnGoogle(t, 0)
	burst(t, sim, []*Transport{tr}, 400, 300, 30*time.Second)
	if l.local != 100 || l.upstream != 0 {
		t.Fatalf("429s counted %+v", l)
	}
	// The next minute, the budget is back.
	clk.Advance(30 * time.Second)
	burst(t, sim, []*Transport{tr}, 1, 1, 0)
}

// The same burst over 3 gateway instances sharing one Redis (the token
// store's, as the module wires it).
func TestGoogleBudgetBurstAcrossInstances(t *testing.T) {
	clk := simtest.NewClock()
	sim := startGoogle(t, clk, 0)
	addr := redistest.Start(t)
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	var gateways []*Transport
	var l limits
	for i := range 3 {
		c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
		t.Cleanup(func() { _ = c.Close() })
		store, err := redisstore.NewWithClient(c, keys, "{fitbit}", 0)
		if err != nil {
			t.Fatal(err)
		}
		tr, m := googleGateway(t, sim, store, ratelimit.NewRedisWindows(c, store.Prefix()+":budget:google_health"), clk, &l)
		if i == 0 {
			connectGoogle(t, m, sim)
		}
		gateways = append(gateways, tr)
	}
	burst(t, sim, gateways, 400, 300, 30*time.Second)
}

// Google's own 429 (its quota is lower than the gateway's budget, or
// another app spent it) blocks the identity until Google's Retry-After on
// every call: nothing reaches Google until then.
func TestUpstream429SilenceUntilReset(t *testing.T) {
	clk, sim, tr, l := aliceOnGoogle(t, 5)
	for i := range 6 {
		a := roundTrip(t, tr, newReq(t, "GET", sim.URL()+"/v4/users/me/identity", "alice", nil))
		if want := map[bool]int{true: 200, false: 429}[i < 5]; a.status != want {
			t.Fatalf("call %d: %d, want %d", i, a.status, want)
		}
	}
	if st := sim.Stats(); st.APIRequests != 6 || st.API429 != 1 || l.upstream != 1 {
		t.Fatalf("Google %+v, 429s %+v", st, l)
	}
	// Silence until Google's reset (the next minute, 30 s away).
	for _, wait := range []time.Duration{0, 10 * time.Second, 19 * time.Second} {
		clk.Advance(wait)
		a := roundTrip(t, tr, newReq(t, "GET", sim.URL()+"/v4/users/me/identity", "alice", nil))
		if a.status != 429 || !bytes.Contains(a.body, []byte("answered 429")) {
			t.Fatalf("during the block: %d %s", a.status, a.body)
		}
	}
	if st := sim.Stats(); st.APIRequests != 6 {
		t.Fatalf("calls reached Google during its block: %+v", st)
	}
	if l.local != 3 {
		t.Fatalf("local 429s %d, want 3", l.local)
	}
	clk.Advance(time.Second) // 30 s after the 429
	if a := roundTrip(t, tr, newReq(t, "GET", sim.URL()+"/v4/users/me/identity", "alice", nil)); a.status != 200 {
		t.Fatalf("at Google's reset: %d %s", a.status, a.body)
	}
}

// Fitbit's headers correct the gateway's count: a user who spent 148 of
// Fitbit's 150 calls elsewhere (another gateway, before a restart) gets 2
// more through the gateway, then the gateway's 429 with Fitbit's reset and
// Fitbit's headers, in Fitbit's envelope; Fitbit never answers 429.
func TestFitbitHeadersCorrectTheBudget(t *testing.T) {
	clk := simtest.NewClock()
	sim, err := fitbitsim.Start(fitbitsim.Config{Now: clk.Now, GraceWindow: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	f := newFixture(t)
	f.sim.Close()
	f.sim = sim
	reg := f.m.Provider().Reg
	reg.Endpoints.APIBase = sim.APIBase()
	f.m = tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: f.store})
	f.tr.Tokens, f.tr.Provider, f.tr.Now = f.m, f.m.Provider(), clk.Now
	var l limits
	f.tr.Budget = &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(), PerUser: ratelimit.Window{Limit: 150, Period: time.Hour},
		Headers: true, Now: clk.Now, OnLimited: l.observe}
	rec := f.connect(t, "alice", "AAAAAA")
	for range 148 { // elsewhere, with the same token
		req, _ := http.NewRequest("GET", sim.APIBase()+"/1/user/-/profile.json", nil)
		req.Header.Set("Authorization", "Bearer "+rec.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for i := range 2 {
		a := roundTrip(t, f.tr, newReq(t, "GET", sim.APIBase()+"/1/user/-/profile.json", "alice", nil))
		if a.status != 200 || a.header.Get(ratelimit.HeaderRemaining) != strconv.Itoa(1-i) {
			t.Fatalf("call %d: %d, Remaining %q", i, a.status, a.header.Get(ratelimit.HeaderRemaining))
		}
	}
	a := roundTrip(t, f.tr, newReq(t, "GET", sim.APIBase()+"/1/user/-/profile.json", "alice", nil))
	if a.status != 429 || envelope(t, a).ErrorType != apierror.RateLimitExceeded || a.header.Get("Retry-After") != "2670" ||
		a.header.Get(ratelimit.HeaderLimit) != "150" || a.header.Get(ratelimit.HeaderRemaining) != "0" || a.header.Get(ratelimit.HeaderReset) != "2670" {
		t.Fatalf("past Fitbit's budget: %d %v %s", a.status, a.header, a.body)
	}
	if st := sim.Stats(); st.API429 != 0 || st.APIRequests != 150 || l.local != 1 {
		t.Fatalf("Fitbit %+v, 429s %+v", st, l)
	}
}

// The gateway's own errors in Fitbit's dialect carry Fitbit's rate-limit
// headers too, the identity's window as it stands, counted by nothing:
// Fitbit sent them with every answer. Google-dialect answers and
// unidentified callers get none.
func TestGatewayErrorsCarryTheWindow(t *testing.T) {
	_, sim, tr, l := aliceOnGoogle(t, 0)
	fitbitCall := func(identity string) answer { // a translated call's Google request
		req := newReq(t, "GET", sim.URL()+"/v4/users/me/identity", identity, nil)
		return roundTrip(t, tr, req.WithContext(WithDialect(req.Context(), apierror.Fitbit)))
	}
	window := func(a answer) string {
		return a.header.Get(ratelimit.HeaderLimit) + "/" + a.header.Get(ratelimit.HeaderRemaining) + "/" + a.header.Get(ratelimit.HeaderReset)
	}
	for i := range 2 {
		if a := fitbitCall("alice"); a.status != 200 || window(a) != "300/"+strconv.Itoa(299-i)+"/30" {
			t.Fatalf("call %d: %d, window %s", i, a.status, window(a))
		}
	}
	// Not connected: a 401 with the window of an identity that sent nothing.
	for range 2 {
		if a := fitbitCall("bob"); a.status != 401 || window(a) != "300/300/30" {
			t.Fatalf("bob: %d, window %s %s", a.status, window(a), a.body)
		}
	}
	// Refused before it was sent (a misrouted call): alice's window, unspent.
	tr.Upstream = func(*http.Request) bool { return false }
	for range 2 {
		if a := fitbitCall("alice"); a.status != 502 || window(a) != "300/298/30" {
			t.Fatalf("refused: %d, window %s", a.status, window(a))
		}
	}
	tr.Upstream = nil
	if a := fitbitCall("alice"); a.status != 200 || window(a) != "300/297/30" {
		t.Fatalf("after: %d, window %s", a.status, window(a))
	}
	// Google's dialect, or no identity: no Fitbit headers.
	if a := roundTrip(t, tr, newReq(t, "GET", sim.URL()+"/v4/users/me/identity", "bob", nil)); a.status != 401 || window(a) != "//" {
		t.Fatalf("Google dialect: %d, window %s", a.status, window(a))
	}
	if a := fitbitCall(""); a.status != 401 || window(a) != "//" {
		t.Fatalf("unidentified: %d, window %s", a.status, window(a))
	}
	if st := sim.Stats(); st.APIRequests != 3 || l.local != 0 {
		t.Fatalf("Google saw %d calls, %d local 429s", st.APIRequests, l.local)
	}
}
