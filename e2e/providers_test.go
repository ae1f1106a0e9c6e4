package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// bridge is a gateway with two registrations: Fitbit (the default) and the
// Google Health API, each against its simulator.
type bridge struct {
	*env
	google *googlesim.Server
}

func newBridge(t *testing.T) *bridge { t.Helper(); return newBridgeWith(t, "") }

// newBridgeWith adds fitbitExtra to the fitbit global option.
func newBridgeWith(t *testing.T, fitbitExtra string) *bridge {
	t.Helper()
	g, err := googlesim.Start(googlesim.Config{
		RedirectURIs:  []string{gateway + "/fitbit/callback"},
		LegacyUserIDs: map[string]string{"111111111111111111111": "ALICE1", "222222222222222222222": "BOB222"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	users := []string{"111111111111111111111", "222222222222222222222"}
	next := 0
	g.SetConsent(func(*http.Request, []string) googlesim.Consent {
		u := users[next%len(users)]
		next++
		return googlesim.Consent{UserID: u}
	})
	extra := googleProvider(g) + "\n\t\t" + fitbitExtra
	return &bridge{env: newEnv(t, options{FitbitExtra: extra}), google: g}
}

// googleProvider is the fitbit global option's registration of g.
func googleProvider(g *googlesim.Server) string {
	return fmt.Sprintf(`provider google_health {
			client_id %s
			client_secret %s
			redirect_uri %s/fitbit/callback
			authorize_url %s
			token_url %s
			revoke_url %s
			api_base %s
			scopes activity heartrate sleep profile settings
		}`, g.ClientID(), g.ClientSecret(), gateway, g.AuthorizeURL(), g.TokenURL(), g.RevokeURL(), g.APIBase())
}

// connectGoogle runs the browser flow for user against Google Health.
func (b *bridge) connectGoogle(user string) {
	b.t.Helper()
	resp, body := b.do(b.browser(user), "GET", "/fitbit/authorize?provider=google_health", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Google Health account is connected") {
		b.t.Fatalf("connect %s to Google Health: %d %s", user, resp.StatusCode, body)
	}
}

func TestIdentityConnectedToBothProviders(t *testing.T) {
	b := newBridge(t)
	b.mustConnect("alice")
	b.connectGoogle("alice")

	code, st := b.get("alice", "/fitbit/status")
	providers, _ := st["providers"].(map[string]any)
	fb, _ := providers["fitbit"].(map[string]any)
	gh, _ := providers["google_health"].(map[string]any)
	if code != 200 || st["provider"] != "fitbit" || fb["connected"] != true || gh["connected"] != true {
		t.Fatalf("status: %d %v", code, st)
	}
	if gh["user_id"] != "111111111111111111111" || gh["connect_url"] != "/fitbit/authorize?provider=google_health" {
		t.Fatalf("google status: %v", gh)
	}
	if ids, _ := gh["ids"].(map[string]any); ids["legacy_user_id"] != "ALICE1" {
		t.Fatalf("legacy user id: %v", gh)
	}
	if scopes, _ := gh["scopes"].([]any); len(scopes) == 0 || !strings.HasPrefix(scopes[0].(string), "https://www.googleapis.com/auth/googlehealth.") {
		t.Fatalf("google scopes: %v", gh["scopes"])
	}
	// The consent request asked for offline access, so a refresh token came.
	if reqs := b.google.AuthRequests(); len(reqs) != 1 || reqs[0].AccessType != "offline" || reqs[0].Prompt != "consent" || reqs[0].CodeChallengeMethod != "S256" || !reqs[0].RefreshTokenEligible {
		t.Fatalf("authorize request: %+v", reqs)
	}

	// Fitbit paths go to Fitbit, /v4 paths to Google, each with its token.
	if code, m := b.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("fitbit profile: %d %v", code, m)
	}
	code, m := b.get("alice", "/v4/users/me/identity")
	if code != 200 || m["healthUserId"] != "111111111111111111111" {
		t.Fatalf("google identity: %d %v", code, m)
	}
	body := []byte(`{"range":{"start":{"date":{"year":2026,"month":11,"day":20}},"end":{"date":{"year":2026,"month":11,"day":21}}},"windowSizeDays":1}`)
	resp, out := b.do(b.app("alice"), "POST", "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp", body, http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != 200 || !strings.Contains(out, "rollupDataPoints") {
		t.Fatalf("dailyRollUp: %d %s", resp.StatusCode, out)
	}

	// Google's token expires early: UNAUTHENTICATED → refresh → replay; the
	// refresh token is not rotated, and stays usable.
	b.google.ExpireAccessTokens("111111111111111111111")
	resp, out = b.do(b.app("alice"), "POST", "/v4/users/me/echo", body, http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != 200 || !strings.Contains(out, fmt.Sprint(len(body))) {
		t.Fatalf("replayed echo: %d %s", resp.StatusCode, out)
	}
	b.google.ExpireAccessTokens("111111111111111111111")
	if code, m := b.get("alice", "/v4/users/me/profile"); code != 200 {
		t.Fatalf("second expiry: %d %v", code, m)
	}
	if st := b.google.Stats(); st.Refreshes != 2 || st.InvalidGrants != 0 {
		t.Fatalf("google simulator %+v", st)
	}
	if st := b.sim.Stats(); st.Refreshes != 0 {
		t.Fatalf("fitbit simulator refreshed: %+v", st)
	}
	// No Google token in storage or logs either.
	if found := secretsIn(t, b.dir, b.google.IssuedSecrets()); len(found) > 0 {
		t.Fatalf("google secrets in plain text: %v", found)
	}
	// Disconnect Google only.
	resp, out = b.do(b.app("alice"), "POST", "/fitbit/disconnect?provider=google_health", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(out, `"provider":"google_health"`) {
		t.Fatalf("disconnect google: %d %s", resp.StatusCode, out)
	}
	if code, _ := b.get("alice", "/1/user/-/profile.json"); code != 200 {
		t.Fatal("the Fitbit connection went with Google's")
	}
}

// With the translation off, a Google-only identity calling Fitbit's paths
// is told where it moved (with it on, its calls are answered from Google:
// translate_test.go).
func TestGoogleOnlyIdentityOnFitbitPathIsMigrated(t *testing.T) {
	b := newBridgeWith(t, "translate off")
	b.connectGoogle("bob")
	code, m := b.get("bob", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "provider_migrated" || !strings.Contains(errorMessage(m), "Google Health") {
		t.Fatalf("fitbit path, google-only identity: %d %v", code, m)
	}
	resp, _ := b.do(b.app("bob"), "GET", "/1/user/-/profile.json", nil, nil)
	if l := resp.Header.Get("Link"); !strings.Contains(l, "provider=google_health") {
		t.Fatalf("Link: %q", l)
	}
	// And the Google path works.
	if code, m := b.get("bob", "/v4/users/me/identity"); code != 200 || m["healthUserId"] != "111111111111111111111" {
		t.Fatalf("google identity: %d %v", code, m)
	}
	// Unknown provider names are refused.
	resp, _ = b.do(b.browser("bob"), "GET", "/fitbit/authorize?provider=nope", nil, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("unknown provider: %d", resp.StatusCode)
	}
}

// With the translation off, Fitbit's shutdown is said clearly (with it on,
// the calls are answered from Google: translate_test.go).
func TestFitbitGoneIsSaidClearly(t *testing.T) {
	b := newBridgeWith(t, "translate off")
	b.mustConnect("alice")
	b.sim.SetGone(true)
	code, m := b.get("alice", "/1/user/-/profile.json")
	if code != 410 || errorType(m) != "provider_gone" || !strings.Contains(errorMessage(m), "/fitbit/authorize?provider=google_health") {
		t.Fatalf("after the shutdown: %d %v", code, m)
	}
	// Even with an expired token: no refresh is attempted against a gone API.
	b.sim.SetGone(false)
	b.sim.ExpireAccessTokens("ALICE1")
	b.sim.SetGone(true)
	if code, m := b.get("alice", "/1/user/-/profile.json"); code != 410 || errorType(m) != "provider_gone" {
		t.Fatalf("gone with an expired token: %d %v", code, m)
	}
	if st := b.sim.Stats(); st.Refreshes != 0 {
		t.Fatalf("refreshed against a gone API: %+v", st)
	}
	_, st := b.get("alice", "/fitbit/status?provider=fitbit")
	if st["health"] != "provider_gone" || st["provider_gone_since"] == nil {
		t.Fatalf("status: %v", st)
	}
	resp, err := http.Get("http://localhost:2999/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if !strings.Contains(buf.String(), `caddy_fitbit_proxied_requests_total{outcome="provider_gone",provider="fitbit"}`) {
		t.Fatal("no provider_gone metric")
	}
	// Fitbit answers normally again: provider_gone clears.
	b.sim.SetGone(false)
	if code, _ := b.get("alice", "/1/user/-/profile.json"); code != 200 {
		t.Fatalf("after Fitbit came back: %d", code)
	}
	if _, st := b.get("alice", "/fitbit/status?provider=fitbit"); st["health"] != "ok" || st["provider_gone_since"] != nil {
		t.Fatalf("status after Fitbit came back: %v", st)
	}
	_ = json.Valid
}
