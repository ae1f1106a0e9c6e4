package successor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// manager is a token manager for preset over a fresh file-system store.
func manager(t testing.TB, preset provider.Preset, apiBase string) *tokens.Manager {
	m, _ := managerOver(t, preset, apiBase)
	return m
}

// managerOver is manager, with the store's connection reads counted.
func managerOver(t testing.TB, preset provider.Preset, apiBase string) (*tokens.Manager, *readCounting) {
	t.Helper()
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	store := &readCounting{Store: storagestore.New(&certmagic.FileStorage{Path: t.TempDir()}, keys, "")}
	reg := provider.Registration{ClientID: "id", ClientSecret: "s", RedirectURL: "http://x/cb",
		Endpoints: provider.Endpoints{APIBase: apiBase}}.WithDefaults(preset)
	return tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: store}), store
}

// readCounting counts the connection reads of a store.
type readCounting struct {
	tokenstore.Store
	reads atomic.Int64
}

func (s *readCounting) LoadConnection(ctx context.Context, key tokenstore.Key) (*tokenstore.Record, error) {
	s.reads.Add(1)
	return s.Store.LoadConnection(ctx, key)
}

// connect stores identity's connection to user with token.
func connect(t testing.TB, m *tokens.Manager, identity, user, token string) {
	t.Helper()
	rec := &tokenstore.Record{Provider: m.Provider().Reg.Name, IdentityHash: tokenstore.IdentityHash(identity), UserID: user,
		AccessToken: token, RefreshToken: strings.Repeat("r", 64), Expiry: time.Now().Add(time.Hour), Status: tokenstore.StatusOK}
	if err := m.Connect(context.Background(), identity, rec); err != nil {
		t.Fatal(err)
	}
}

// gateway is the translation as the fitbit transport wires it: a Router in
// mode fallback over Fitbit's injecting transport (to canned) and a Server
// answering from the simulated Google through Google's injecting
// transport, both identifying the caller with one counted expression.
type gateway struct {
	router      *Router
	fitbit      *tokens.Manager
	google      *tokens.Manager
	sim         *googlesim.Server
	evaluations atomic.Int64
}

func newGateway(t *testing.T, legacyIDs map[string]string) *gateway {
	t.Helper()
	sim, err := googlesim.Start(googlesim.Config{Now: func() time.Time { return simNow }, RateLimitPerMinute: -1, LegacyUserIDs: legacyIDs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	g := &gateway{sim: sim, fitbit: manager(t, provider.Fitbit, ""), google: manager(t, provider.GoogleHealth, sim.URL())}
	identity := func(*http.Request) string { g.evaluations.Add(1); return "alice" }
	googleInject := &inject.Transport{Base: Counting(http.DefaultTransport), Tokens: g.google, Provider: g.google.Provider(),
		Identity: identity, RefreshOn: provider.GoogleHealth.RefreshOn}
	srv, err := NewServer(googleInject, sim.URL(), func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	srv.Google = g.google
	g.router = &Router{Mode: Fallback, Fitbit: g.fitbit, Gone: &g.fitbit.Provider().Gone, Identity: identity,
		Pass: &inject.Transport{Base: canned{}, Tokens: g.fitbit, Provider: g.fitbit.Provider(), Identity: identity}, Successor: srv}
	return g
}

// connectGoogle connects alice to the simulated Google user.
func (g *gateway) connectGoogle(t *testing.T, user string) {
	t.Helper()
	connect(t, g.google, "alice", user, g.sim.MintTokens(user, g.sim.AllScopes()...).AccessToken)
}

func TestIdentityEvaluatedOncePerCall(t *testing.T) {
	g := newGateway(t, nil)
	g.connectGoogle(t, googlesim.DefaultUserID)
	// Not connected to Fitbit: answered from Google in three Google calls.
	resp, v := call(t, g.router, "/1/user/-/profile.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get(CallsHeader) != "3" {
		t.Fatalf("translated: %d, %s %q: %v", resp.StatusCode, CallsHeader, resp.Header.Get(CallsHeader), v)
	}
	if n := g.evaluations.Swap(0); n != 1 {
		t.Errorf("translated call: identity evaluated %d times, want 1", n)
	}
	// Connected to Fitbit: passed through.
	connect(t, g.fitbit, "alice", "U", strings.Repeat("a", 40))
	resp, err := g.router.RoundTrip(httptest.NewRequest(http.MethodGet, "/1/user/-/profile.json", nil))
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get(CallsHeader) != "" {
		t.Fatalf("passed through: %v %v", resp, err)
	}
	if n := g.evaluations.Swap(0); n != 1 {
		t.Errorf("passed-through call: identity evaluated %d times, want 1", n)
	}
}

func TestReconnectToAnotherGoogleAccount(t *testing.T) {
	const a, b = "1111111111111111111", "2222222222222222222"
	g := newGateway(t, map[string]string{a: "AAAAAA", b: "BBBBBB"})
	g.connectGoogle(t, a)
	if resp, v := call(t, g.router, "/1/user/AAAAAA/profile.json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("own id of account a: %d %v", resp.StatusCode, v)
	}
	// A's identity and settings are cached now: the profile alone.
	if resp, _ := call(t, g.router, "/1/user/AAAAAA/profile.json"); resp.Header.Get(CallsHeader) != "1" {
		t.Fatalf("account a's facts cached: %s %q, want 1", CallsHeader, resp.Header.Get(CallsHeader))
	}
	// alice connects account b: its facts are fetched anew.
	g.connectGoogle(t, b)
	resp, v := call(t, g.router, "/1/user/BBBBBB/profile.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get(CallsHeader) != "3" {
		t.Fatalf("own id of account b after the reconnect: %d, %s %q, %v (answered from a's cached identity?)", resp.StatusCode, CallsHeader, resp.Header.Get(CallsHeader), v)
	}
	if user, _ := v["user"].(map[string]any); user["encodedId"] != "BBBBBB" {
		t.Errorf("profile after the reconnect: encodedId %v, want BBBBBB", user["encodedId"])
	}
	if resp, v := call(t, g.router, "/1/user/AAAAAA/profile.json"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("account a's id after the reconnect: %d %v, want 403", resp.StatusCode, v)
	}
}

// Google's 403 for a missing scope reaches the app as Fitbit's 403
// insufficient_scope naming the Fitbit scope (translate maps it, as it maps
// every Google refusal: the Server sees no raw Google 403).
func TestMissingGoogleScope(t *testing.T) {
	g := newGateway(t, nil)
	connect(t, g.google, "alice", googlesim.DefaultUserID, g.sim.MintTokens(googlesim.DefaultUserID,
		g.sim.Scope(googlesim.AreaSettings, false), g.sim.Scope(googlesim.AreaProfile, false)).AccessToken)
	resp, v := call(t, g.router, "/1.2/user/-/sleep/date/2026-11-19.json")
	if resp.StatusCode != http.StatusForbidden || errorType(v) != "insufficient_scope" {
		t.Fatalf("sleep without the sleep scope: %d %v", resp.StatusCode, v)
	}
	if errs, _ := v["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["fieldName"] != "sleep" {
		t.Errorf("insufficient_scope names %v, want the Fitbit scope sleep", v)
	}
}

// stored is a Google token manager with nothing in memory: the facts key
// comes from the stored connection (a connection's first call after a
// start), so that call's facts are cached already.
type stored struct{ user string }

func (stored) Peek(string) *tokens.Entry { return nil }

func (s stored) Lookup(context.Context, string) (*tokenstore.Record, error) {
	if s.user == "" {
		return nil, tokens.ErrNotConnected
	}
	return &tokenstore.Record{UserID: s.user}, nil
}

func TestFactsKeyOfAConnectionNotInMemory(t *testing.T) {
	s := &Server{Google: stored{"1111111111111111111"}}
	if got := s.factsKey(context.Background(), "alice"); got != "alice\x001111111111111111111" {
		t.Errorf("factsKey = %q", got)
	}
	s.Google = stored{}
	if got := s.factsKey(context.Background(), "alice"); got != "" {
		t.Errorf("not connected: factsKey = %q, want none", got)
	}
}
