package module

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

func TestBudgetCaddyfileErrors(t *testing.T) {
	for input, want := range map[string]string{
		`fitbit { budget on }`:                                         "budget takes off, or a block",
		`fitbit { budget { per_user 0 } }`:                             "per_user takes one whole number ≥ 1",
		`fitbit { budget { per_hour 10 } }`:                            `unknown option "per_hour"`,
		`fitbit { budget { instances 2 3 } }`:                          "instances takes one whole number",
		`fitbit { provider g google_health { budget { project x } } }`: "project takes one whole number",
	} {
		err := (&App{}).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", input, err, want)
		}
	}
}

func TestBudgetValidate(t *testing.T) {
	if err := (&Budget{Instances: 3}).validate("fitbit", true); err == nil || !strings.Contains(err.Error(), "instances is for the storage store") {
		t.Errorf("instances with redis: %v", err)
	}
	if err := (&Budget{PerUser: -1}).validate("fitbit", false); err == nil {
		t.Error("a negative per_user passed")
	}
	if err := (&Budget{PerUser: 100, Instances: 3}).validate("fitbit", false); err != nil {
		t.Error(err)
	}
}

// Each instance of the file store keeps its share: the provider's limit,
// or the operator's, divided by instances.
func TestBudgetShare(t *testing.T) {
	a := &App{ProviderConfig: ProviderConfig{ClientID: "c", Budget: &Budget{PerUser: 100, Instances: 3}},
		Providers: map[string]*Provider{"google_health": {ProviderConfig: ProviderConfig{Budget: &Budget{Project: 60000, Instances: 3}}}},
		state:     &state{}}
	fitbit := a.budget(provider.Registration{Name: "fitbit", Preset: &provider.Fitbit}, nil)
	google := a.budget(provider.Registration{Name: "google_health", Preset: &provider.GoogleHealth}, nil)
	if fitbit.PerUser.Limit != 33 || fitbit.Cap != 100 || !fitbit.Headers || google.PerUser.Limit != 100 || google.Project.Limit != 20000 || google.Headers {
		t.Fatalf("fitbit %+v, google %+v", fitbit, google)
	}
	a.Budget = &Budget{Off: true}
	if a.budget(provider.Registration{Name: "fitbit", Preset: &provider.Fitbit}, nil) != nil {
		t.Fatal("budget off")
	}
}

// Two instances over one file-system store count their budgets alone, and
// a provider's 429 on one reaches the other through the store within
// cache_sync_interval: it refuses the identity's calls until the 429's
// reset, with its Retry-After, and no other identity's.
func TestPeersLearnUpstream429(t *testing.T) {
	root := t.TempDir()
	now := time.Now()
	budgetNow = func() time.Time { return now }
	t.Cleanup(func() { budgetNow = time.Now })
	instance := func(cacheSize int) *ratelimit.Budget {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		t.Cleanup(cancel)
		// Another cache_size: another state, as in another process.
		a := &App{Providers: map[string]*Provider{"google_health": {ProviderConfig: ProviderConfig{ClientID: "id.apps.googleusercontent.com",
			ClientSecret: "secret", RedirectURI: "https://gw.example/fitbit/callback"}}},
			EncryptionKeys:    []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
			StorageRaw:        []byte(`{"module":"file_system","root":"` + root + `"}`),
			CacheSize:         cacheSize,
			CacheSyncInterval: caddy.Duration(500 * time.Millisecond)}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Cleanup() })
		return a.budget(a.regs[0], zap.NewNop())
	}
	a, b := instance(100), instance(200)
	if a.Peers == nil || a.Peers == b.Peers {
		t.Fatalf("peers: %p, %p", a.Peers, b.Peers)
	}
	g := a.Take(t.Context(), "alice")
	a.Settle(t.Context(), "alice", g, &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := b.Peek(t.Context(), "alice")
		if !g.Allowed {
			if !g.Blocked || g.RetryAfter != time.Hour {
				t.Fatalf("b's refusal: %+v", g)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the 429 did not reach the other instance")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g := b.Take(t.Context(), "alice"); g.Allowed || !g.Blocked {
		t.Fatalf("b let alice's call through: %+v", g)
	}
	if g := b.Take(t.Context(), "bob"); !g.Allowed {
		t.Fatalf("b refused bob: %+v", g)
	}
	now = now.Add(time.Hour)
	if g := b.Take(t.Context(), "alice"); !g.Allowed {
		t.Fatalf("at the 429's reset: %+v", g)
	}
}
