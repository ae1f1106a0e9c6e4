package module

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Ports of this package's in-process Caddy: not e2e's (9080, admin 2999),
// whose tests may run at the same time.
const (
	budgetAdmin   = 2997
	budgetGateway = "http://localhost:9087"
)

// Through real Caddy, with the budgets' clock and the simulated Google's
// one the same simtest.Clock (30 s into a minute): 400 /v4/ calls of one
// identity in that minute let exactly 300 reach Google, and 100 get the
// gateway's 429 with Retry-After 30; the next minute, a Fitbit call
// answered from Google carries Fitbit's rate-limit headers of the Google
// budget; the 429s are in the metrics by provider.
func TestBudgetThroughCaddy(t *testing.T) {
	clk := simtest.NewClock()
	budgetNow = clk.Now
	t.Cleanup(func() { budgetNow = time.Now })
	sim, err := googlesim.Start(googlesim.Config{Now: clk.Now, RedirectURIs: []string{budgetGateway + "/fitbit/callback"}})
	sim = simtest.Serving(t, sim, err)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tc := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: budgetAdmin})
	// JSON: the Caddyfile adapter (package caddyfile) imports this one.
	tc.InitServer(fmt.Sprintf(`{
	"admin": {"listen": "localhost:%d"},
	"storage": {"module": "file_system", "root": %q},
	"apps": {
		"fitbit": {
			"encryption_keys": [%q],
			"providers": {"google_health": {
				"client_id": %q, "client_secret": %q, "redirect_uri": "%s/fitbit/callback",
				"endpoints": {"authorize_url": %q, "token_url": %q, "revoke_url": %q, "api_base": %q}
			}}
		},
		"http": {"grace_period": 1, "http_port": 9087, "https_port": 9447, "servers": {"budget": {
			"listen": [":9087"], "automatic_https": {"disable": true},
			"routes": [{"handle": [{"handler": "reverse_proxy",
				"transport": {"protocol": "fitbit", "identity": "{http.request.header.X-User}"},
				"upstreams": [{"dial": %q}]}]}]
		}}}
	}
}`, budgetAdmin, t.TempDir(), base64.StdEncoding.EncodeToString(key), sim.ClientID(), sim.ClientSecret(), budgetGateway,
		sim.AuthorizeURL(), sim.TokenURL(), sim.RevokeURL(), sim.APIBase(), strings.TrimPrefix(sim.APIBase(), "http://")), "json")

	// alice's Google connection, stored through the running app.
	v, err := caddy.ActiveContext().AppIfConfigured("fitbit")
	if err != nil {
		t.Fatal(err)
	}
	m, err := v.(*App).manager("google_health")
	if err != nil {
		t.Fatal(err)
	}
	tok := sim.MintTokens(googlesim.DefaultUserID, sim.AllScopes()...)
	if err := m.Connect(t.Context(), "alice", &tokenstore.Record{Provider: "google_health", IdentityHash: tokenstore.IdentityHash("alice"),
		UserID: googlesim.DefaultUserID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		Expiry: time.Now().Add(time.Hour), Status: tokenstore.StatusOK}); err != nil {
		t.Fatal(err)
	}

	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", budgetGateway+path, nil)
		req.Header.Set("X-User", "alice")
		resp, err := tc.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	ok, refused := 0, 0
	for i := range 400 {
		resp, body := get("/v4/users/me/identity")
		switch {
		case resp.StatusCode == 200:
			ok++
		case resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "30" && strings.Contains(body, `"RESOURCE_EXHAUSTED"`) && strings.Contains(body, "RATE_LIMIT_EXCEEDED"):
			refused++
		default:
			t.Fatalf("call %d: %d %v %s", i, resp.StatusCode, resp.Header, body)
		}
	}
	if st := sim.Stats(); ok != 300 || refused != 100 || st.APIRequests != 300 || st.API429 != 0 {
		t.Fatalf("%d answered, %d refused; Google saw %d calls, answered %d with 429", ok, refused, st.APIRequests, st.API429)
	}

	clk.Advance(30 * time.Second) // the next minute
	resp, body := get("/1/user/-/profile.json")
	if resp.StatusCode != 200 || resp.Header.Get("Gateway-Google-Calls") != "3" || resp.Header.Get(ratelimit.HeaderLimit) != "300" ||
		resp.Header.Get(ratelimit.HeaderRemaining) != "297" || resp.Header.Get(ratelimit.HeaderReset) != "60" {
		t.Fatalf("translated profile: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	metrics, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", budgetAdmin))
	if err != nil {
		t.Fatal(err)
	}
	defer metrics.Body.Close()
	b, _ := io.ReadAll(metrics.Body)
	if want := `caddy_fitbit_rate_limited_total{by="gateway",provider="google_health"} 100`; !strings.Contains(string(b), want) {
		t.Errorf("metrics lack %s", want)
	}
}
