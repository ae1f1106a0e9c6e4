package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// oauth2Site serves an app written for Fitbit's OAuth 2.0 on a gateway with
// a Google Health registration only, as README › Apps written for Fitbit's
// OAuth 2.0 shows: Fitbit's OAuth 2.0 endpoints and the calls with a
// gateway-issued Bearer token go to fitbit_oauth2 and on to the proxy, and
// the OAuth 2.0 callback of the Google consent is open to the app's users.
const oauth2Site = `@fitbit_oauth2 expression path('/oauth2/*', '/1.1/oauth2/*') || header({'Authorization': 'Bearer *'})
	route @fitbit_oauth2 {
		fitbit_oauth2
		fitbit_proxy
	}
	route /fitbit/callback {
		fitbit_auth
	}`

// An app written for Fitbit's OAuth 2.0 — here the third-party client
// golang.org/x/oauth2 with PKCE, with Fitbit's URLs changed to the
// gateway's — signs a user in through a Google consent, exchanges the code,
// reads Fitbit's JSON answered from Google, refreshes through the library's
// own logic and revokes.
func TestFitbitOAuth2AppOnGoogleHealth(t *testing.T) {
	g, app, callbacks := oauth2Gateway(t, "oauth2_app 23PHN2 {\n\t\t\tapp_type client\n\t\t\tredirect_uri {{.App}}/callback\n\t\t\taccess_token_lifetime 5s\n\t\t}")
	e := app.env
	cfg := &oauth2.Config{
		ClientID: "23PHN2",
		Endpoint: oauth2.Endpoint{AuthURL: gateway + "/oauth2/authorize", TokenURL: gateway + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: app.URL + "/callback",
		Scopes:      []string{"activity", "heartrate", "profile", "sleep"},
	}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cb := callbacks()
	if resp.StatusCode != 200 || string(body) != "app callback" || len(cb) != 1 || cb[0].Get("state") != "st4te" {
		t.Fatalf("sign-in ended with %d: %s (%v)", resp.StatusCode, body, cb)
	}
	if reqs := g.AuthRequests(); len(reqs) != 1 {
		t.Fatalf("want one Google consent, saw %d", len(reqs))
	}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, cb[0].Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.Extra("user_id") != "ALICE1" || tok.Extra("scope") != "activity heartrate profile sleep" || tok.Extra("expires_in") != 5.0 {
		t.Fatalf("token answer: user_id %v scope %v expiry %s", tok.Extra("user_id"), tok.Extra("scope"), tok.Expiry)
	}
	read := func(tok *oauth2.Token, path string) map[string]any {
		t.Helper()
		// A static source: the token's 5 s are inside x/oauth2's early
		// refresh margin, and these reads are to use the issued token.
		resp, err := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)).Get(gateway + path)
		if err != nil {
			t.Fatal(err)
		}
		status, m := readJSON(t, resp)
		if status != 200 {
			t.Fatalf("%s: %d %v", path, status, m)
		}
		return m
	}
	if m := read(tok, "/1/user/-/profile.json"); profileUser(m) != "ALICE1" {
		t.Fatalf("profile: %v", m)
	}
	for path, key := range map[string]string{
		"/1/user/-/activities/date/today.json":          "summary",
		"/1/user/-/activities/heart/date/today/1d.json": "activities-heart",
		"/1.2/user/-/sleep/date/" + today() + ".json":   "sleep",
		"/1/user/-/activities/steps/date/today/7d.json": "activities-steps",
	} {
		if m := read(tok, path); m[key] == nil {
			t.Fatalf("%s lacks %s: %v", path, key, m)
		}
	}
	// The token expires (the app's access_token_lifetime is 5 s): the
	// gateway answers Fitbit's 401 expired_token, and the app, as one
	// written for Fitbit does, lets the library's TokenSource refresh.
	for {
		resp, err := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)).Get(gateway + "/1/user/-/profile.json")
		if err != nil {
			t.Fatal(err)
		}
		status, m := readJSON(t, resp)
		if status == 401 && errorType(m) == "expired_token" {
			break
		}
		if status != 200 {
			t.Fatalf("waiting for the expiry: %d %v", status, m)
		}
		time.Sleep(200 * time.Millisecond)
	}
	src := cfg.TokenSource(ctx, tok)
	fresh, err := src.Token()
	if err != nil || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	if m := read(fresh, "/1/user/-/profile.json"); profileUser(m) != "ALICE1" {
		t.Fatalf("profile after refresh: %v", m)
	}
	// Revoke (RFC 7009): every token of the sign-in stops working.
	resp, err = http.PostForm(gateway+"/oauth2/revoke", url.Values{"client_id": {"23PHN2"}, "token": {fresh.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	resp, err = oauth2.NewClient(ctx, oauth2.StaticTokenSource(fresh)).Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 401 || errorType(m) != "invalid_token" {
		t.Fatalf("after revoke: %d %v", status, m)
	}
	// The audit log records the revocation, by whom, of whose grant.
	var revoked []map[string]any
	for _, l := range auditLines(t, filepath.Join(e.dir, "caddy.log")) {
		if l["action"] == "revoke" {
			revoked = append(revoked, l)
		}
	}
	if len(revoked) != 1 || revoked[0]["client"] != "23PHN2" || revoked[0]["provider"] != "google_health" ||
		!tokenstore.IsIdentityHash(revoked[0]["identity_hash"].(string)) || revoked[0]["result"] != "grant_revoked" {
		t.Fatalf("audit of the revocation: %v", revoked)
	}
	if st := e.sim.Stats(); st.APIRequests != 0 || st.CodeExchanges != 0 {
		t.Fatalf("the simulated Fitbit was used: %+v", st)
	}
	if found := secretsIn(t, e.dir, append(g.IssuedSecrets(), tok.AccessToken, tok.RefreshToken, fresh.AccessToken, fresh.RefreshToken)); len(found) > 0 {
		t.Fatalf("secrets on disk: %v", found)
	}
	// Each step was counted, by the app's upstream registration, and the
	// metrics quote no token.
	resp, err = http.Get("http://localhost:2999/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, step := range [][2]string{{"authorize", "consent"}, {"authorize", "ok"}, {"token", "ok"}, {"api", "ok"}, {"api", "expired_token"}, {"revoke", "ok"}, {"api", "invalid_token"}} {
		series := `caddy_fitbit_oauth2_requests_total{endpoint="` + step[0] + `",provider="google_health",result="` + step[1] + `"}`
		if !strings.Contains(string(metrics), series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, fresh.AccessToken, fresh.RefreshToken} {
		if strings.Contains(string(metrics), secret) {
			t.Fatal("metrics quote a token")
		}
	}
}

// oauth2App is an app's redirect endpoint, in front of a gateway serving
// Fitbit's OAuth 2.0 (oauth2Site) with a Google Health registration only.
type oauth2App struct {
	*httptest.Server
	env *env
}

// oauth2Gateway starts the simulated Google Health (every consent by
// ALICE1), an app's redirect endpoint, and the gateway with appLines in
// its fitbit option ({{.App}}: the endpoint's URL). callbacks returns the
// queries the endpoint received.
func oauth2Gateway(t *testing.T, appLines string) (g *googlesim.Server, app *oauth2App, callbacks func() []url.Values) {
	t.Helper()
	g = googleWithAlice(t)
	var mu sync.Mutex
	var seen []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Query())
		mu.Unlock()
		_, _ = io.WriteString(w, "app callback")
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, dir: t.TempDir(), key: newKey(), fitbitUser: map[string]string{}}
	var err error
	e.sim, err = fitbitsim.Start(fitbitsim.Config{RateLimitPerHour: -1}) // the template names it; no registration uses it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sim.Close() })
	e.load(options{Site: oauth2Site, Fitbit: "encryption_key " + e.key + "\n\t\t" + googleProvider(g) +
		"\n\t\t" + strings.ReplaceAll(appLines, "{{.App}}", srv.URL)})
	return g, &oauth2App{Server: srv, env: e}, func() []url.Values {
		mu.Lock()
		defer mu.Unlock()
		return append([]url.Values(nil), seen...)
	}
}

// The npm package fitbit-node, a Fitbit OAuth 2.0 client library for
// Node.js, unchanged but for its Fitbit URLs (e2e/testdata/fitbit-node,
// installed by .ci/run), as a server app: sign-in following the
// redirects, code exchange, profile, daily activity, heart rate and sleep,
// a real expiry (the app's access_token_lifetime is 5 s) followed by the
// library's refresh on Fitbit's 401 expired_token, revoke.
func TestFitbitNodeOnGoogleHealth(t *testing.T) {
	dir := filepath.Join("testdata", "fitbit-node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fitbit-node")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fitbit-node is not installed (.ci/run runs npm ci in %s): %v", dir, err)
		}
		t.Skipf("fitbit-node is not installed: run npm ci in %s", dir)
	}
	const secret = "a-server-apps-secret-0123456789"
	g, app, callbacks := oauth2Gateway(t, "oauth2_app 23WEB1 {\n\t\t\tclient_secret "+secret+"\n\t\t\tredirect_uri {{.App}}/callback\n\t\t\taccess_token_lifetime 5s\n\t\t}")
	cmd := exec.Command("node", "run.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEWAY="+gateway, "CLIENT_ID=23WEB1", "CLIENT_SECRET="+secret, "REDIRECT_URI="+app.URL+"/callback")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.js: %v\n%s", err, stderr.String())
	}
	type read struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	var out struct {
		State, Fragment, Scope          string
		UserID                          string `json:"user_id"`
		ExpiresIn                       int    `json:"expires_in"`
		Profile, Activity, Heart, Sleep read
		Rotated                         bool
		Refreshes                       int
		RefreshedOnExpiry               bool `json:"refreshed_on_expiry"`
		AfterRefresh                    read `json:"after_refresh"`
		AfterRevoke                     read `json:"after_revoke"`
		Secrets                         []string
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	switch {
	case out.State != "st4te" || out.Fragment != "#_=_" || len(callbacks()) != 1:
		t.Fatalf("back at the app: state %q fragment %q", out.State, out.Fragment)
	case out.UserID != "ALICE1" || out.ExpiresIn != 5 || out.Scope != "activity heartrate profile sleep":
		t.Fatalf("token answer: %s", outb)
	case out.Profile.Status != 200 || profileUser(out.Profile.Body) != "ALICE1":
		t.Fatalf("profile: %+v", out.Profile)
	case out.Activity.Status != 200 || out.Activity.Body["summary"] == nil:
		t.Fatalf("daily activity: %+v", out.Activity)
	case out.Heart.Status != 200 || out.Heart.Body["activities-heart"] == nil:
		t.Fatalf("heart rate: %+v", out.Heart)
	case out.Sleep.Status != 200 || out.Sleep.Body["sleep"] == nil:
		t.Fatalf("sleep: %+v", out.Sleep)
	case !out.RefreshedOnExpiry || !out.Rotated || out.AfterRefresh.Status != 200:
		t.Fatalf("refresh on expiry: refreshed %v (%d refreshes), rotated %v, then %+v",
			out.RefreshedOnExpiry, out.Refreshes, out.Rotated, out.AfterRefresh)
	case out.AfterRevoke.Status != 401 || errorType(out.AfterRevoke.Body) != "invalid_token":
		t.Fatalf("after revoke: %+v", out.AfterRevoke)
	}
	if found := secretsIn(t, app.env.dir, append(g.IssuedSecrets(), append(out.Secrets, secret)...)); len(found) > 0 {
		t.Fatalf("secrets on disk: %v", found)
	}
}

// googleWithAlice is a simulated Google Health whose every consent is by
// one user, whose Fitbit id (legacyUserId) is ALICE1.
func googleWithAlice(t *testing.T) *googlesim.Server {
	t.Helper()
	g, err := googlesim.Start(googlesim.Config{RedirectURIs: []string{gateway + "/fitbit/callback"},
		LegacyUserIDs: map[string]string{"111111111111111111111": "ALICE1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	g.SetConsent(func(*http.Request, []string) googlesim.Consent {
		return googlesim.Consent{UserID: "111111111111111111111"}
	})
	return g
}

func today() string { return time.Now().Format(time.DateOnly) }

// An app asking for fewer scopes gets a Google consent for just their
// Google Health scopes plus settings (the time zone of every daily answer),
// and a call outside them Fitbit's 403 insufficient_scope.
func TestFitbitOAuth2ConsentForTheScopesAsked(t *testing.T) {
	g, app, callbacks := oauth2Gateway(t, "oauth2_app 23PHN2 {\n\t\t\tapp_type client\n\t\t\tredirect_uri {{.App}}/callback\n\t\t}")
	cfg := &oauth2.Config{
		ClientID: "23PHN2",
		Endpoint: oauth2.Endpoint{AuthURL: gateway + "/oauth2/authorize", TokenURL: gateway + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: app.URL + "/callback",
		Scopes:      []string{"activity", "profile"},
	}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := callbacks()
	if len(cb) != 1 || cb[0].Get("code") == "" {
		t.Fatalf("sign-in ended with %d (%v)", resp.StatusCode, cb)
	}
	want := provider.GoogleScopes([]string{"activity", "profile", "settings"})
	if reqs := g.AuthRequests(); len(reqs) != 1 || !slices.Equal(reqs[0].Scopes, want) || !reqs[0].IncludeGrantedScope {
		t.Fatalf("Google consent %+v, want scopes %v", reqs, want)
	}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, cb[0].Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.Extra("scope") != "activity profile" {
		t.Fatalf("exchange: %v, scope %v", err, tok.Extra("scope"))
	}
	resp, err = cfg.Client(ctx, tok).Get(gateway + "/1/user/-/activities/heart/date/today/1d.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 403 || errorType(m) != "insufficient_scope" {
		t.Fatalf("heart rate without its scope: %d %v", status, m)
	}
	// Fitbit's prompt=login: Google is asked to let the user choose the
	// account (it has no prompt=login), beside its prompt=consent.
	resp, err = (&http.Client{Jar: jar}).Get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reqs := g.AuthRequests(); len(reqs) != 2 || reqs[0].Prompt != "consent" || reqs[1].Prompt != "consent select_account" {
		t.Fatalf("Google consents %+v", reqs)
	}
}
