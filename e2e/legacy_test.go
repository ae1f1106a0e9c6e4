package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
)

const (
	legacyKey    = "legacy-fitbit-app"
	legacySecret = "legacy-fitbit-app-secret-2015"
)

// legacySite serves OAuth 1.0a apps and basic_auth users on one site, as
// README › Legacy OAuth 1.0a apps shows: the old token endpoints and
// OAuth-signed calls go to fitbit_oauth1, the OAuth 2.0 callback is open to
// the browsers of legacy users (who have no gateway login), and everything
// else is the usual basic_auth gateway.
const legacySite = `@legacy expression path('/oauth/*') || header({'Authorization': 'OAuth *'}) || query({'oauth_signature': '*'})
	route @legacy {
		fitbit_oauth1
		fitbit_proxy
	}
	route /fitbit/callback {
		fitbit_auth
	}
	route {
		basic_auth {
			alice {{.Alice}}
			bob {{.Bob}}
		}
		fitbit_auth
		fitbit_proxy
	}`

// legacyApp is an OAuth 1.0a app (the third-party client
// github.com/dghubble/oauth1) with its callback endpoint.
type legacyApp struct {
	*env
	cfg *dghubble.Config

	mu        sync.Mutex
	callbacks []url.Values
}

func newLegacy(t *testing.T, fitbitExtra ...string) *legacyApp {
	t.Helper()
	extra := strings.Join(append(fitbitExtra, "oauth1_consumer "+legacyKey+" "+legacySecret), "\n\t\t")
	return newLegacyWith(t, options{FitbitExtra: extra})
}

// newLegacyWith is newLegacy with the fitbit global option of opts (which
// must register the consumer).
func newLegacyWith(t *testing.T, opts options) *legacyApp {
	t.Helper()
	a := &legacyApp{}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.callbacks = append(a.callbacks, r.URL.Query())
		a.mu.Unlock()
		_, _ = io.WriteString(w, "legacy app callback")
	}))
	t.Cleanup(cb.Close)
	opts.Site = strings.NewReplacer("{{.Alice}}", hashes["alice"], "{{.Bob}}", hashes["bob"]).Replace(legacySite)
	a.env = newEnv(t, opts)
	a.cfg = &dghubble.Config{
		ConsumerKey: legacyKey, ConsumerSecret: legacySecret,
		CallbackURL: cb.URL + "/auth/fitbit/callback",
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: gateway + "/oauth/request_token",
			AuthorizeURL:    gateway + "/oauth/authorize",
			AccessTokenURL:  gateway + "/oauth/access_token",
		},
	}
	return a
}

// authorize runs the whole OAuth 1.0a dance and returns token credentials.
func (a *legacyApp) authorize() *dghubble.Token {
	a.t.Helper()
	rt, rs, err := a.cfg.RequestToken()
	if err != nil {
		a.t.Fatalf("request_token: %v", err)
	}
	au, _ := a.cfg.AuthorizationURL(rt)
	// A browser with no gateway login: cookies, redirects.
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(au.String())
	if err != nil {
		a.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "legacy app callback" {
		a.t.Fatalf("authorize ended with %d: %s", resp.StatusCode, body)
	}
	a.mu.Lock()
	q := a.callbacks[len(a.callbacks)-1]
	a.mu.Unlock()
	if q.Get("oauth_token") != rt {
		a.t.Fatalf("callback %v", q)
	}
	at, as, err := a.cfg.AccessToken(rt, rs, q.Get("oauth_verifier"))
	if err != nil {
		a.t.Fatalf("access_token: %v", err)
	}
	return dghubble.NewToken(at, as)
}

func readJSON(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, m
}

func TestLegacyOAuth1AppEndToEnd(t *testing.T) {
	a := newLegacy(t)
	tok := a.authorize()
	client := a.cfg.Client(context.Background(), tok)

	// Signed GET → the connected Fitbit user's profile.
	resp, err := client.Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("profile: %d %v", status, m)
	}

	// Signed form POST: body parameters are signed; Fitbit gets them and
	// nothing of OAuth 1.0a.
	form := url.Values{"activityName": {"Walk"}, "manualCalories": {"120"}, "startTime": {"07:30"},
		"durationMillis": {"1800000"}, "date": {"2015-06-01"}}
	resp, err = client.PostForm(gateway+"/1/user/-/activities.json", form)
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 201 {
		t.Fatalf("log activity: %d %v", status, m)
	}
	resp, err = client.PostForm(gateway+"/1/user/-/echo.json?day=2015-06-01", url.Values{"weight": {"73.5"}})
	if err != nil {
		t.Fatal(err)
	}
	status, echo := readJSON(t, resp)
	if status != 200 || echo["body"] != "weight=73.5" || echo["query"] != "day=2015-06-01" || echo["userId"] != "ALICE1" {
		t.Fatalf("echo: %d %v", status, echo)
	}

	// The Fitbit token expires and is refreshed behind the legacy app's
	// back, as for any identity.
	a.sim.ExpireAccessTokens("ALICE1")
	resp, err = client.Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("profile after expiry: %d %v", status, m)
	}

	// basic_auth users on the same site are untouched.
	a.mustConnect("bob")
	if status, m := a.get("bob", "/1/user/-/profile.json"); status != 200 || profileUser(m) != "BOB222" {
		t.Fatalf("bob: %d %v", status, m)
	}

	// No Fitbit token and no OAuth 1.0a secret in storage or logs.
	secrets := append(a.sim.IssuedSecrets(), tok.Token, tok.TokenSecret, legacySecret)
	if found := secretsIn(t, a.dir, secrets); len(found) > 0 {
		t.Fatalf("secrets on disk: %v", found)
	}
}

func TestLegacyOAuth1Rejections(t *testing.T) {
	a := newLegacy(t)
	tok := a.authorize()
	profile := gateway + "/1/user/-/profile.json"
	want := func(t *testing.T, resp *http.Response, field string) string {
		t.Helper()
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		it, ok := apierror.Parse(b)
		if resp.StatusCode != 401 || !ok || it.ErrorType != "oauth" || it.FieldName != field {
			t.Fatalf("got %d %s, want 401 oauth %s", resp.StatusCode, b, field)
		}
		if strings.Contains(string(b), tok.Token) || strings.Contains(string(b), tok.TokenSecret) {
			t.Fatalf("error leaks a credential: %s", b)
		}
		return it.Message
	}
	get := func(t *testing.T, c *http.Client) *http.Response {
		t.Helper()
		resp, err := c.Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	other := func(key, secret string) *dghubble.Config {
		c := *a.cfg
		c.ConsumerKey, c.ConsumerSecret = key, secret
		return &c
	}

	t.Run("bad signature", func(t *testing.T) {
		want(t, get(t, other(legacyKey, "some-other-secret").Client(context.Background(), tok)), "oauth_signature")
	})
	t.Run("unknown consumer", func(t *testing.T) {
		want(t, get(t, other("unknown-app", legacySecret).Client(context.Background(), tok)), "oauth_consumer_key")
	})
	t.Run("unknown access token", func(t *testing.T) {
		want(t, get(t, a.cfg.Client(context.Background(), dghubble.NewToken("00000000000000000000000000000000", tok.TokenSecret))), "oauth_access_token")
	})
	t.Run("reused nonce", func(t *testing.T) {
		var signed http.Header
		capture := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			signed = r.Header.Clone()
			return http.DefaultTransport.RoundTrip(r)
		})}
		resp := get(t, a.cfg.Client(context.WithValue(context.Background(), dghubble.HTTPClient, capture), tok))
		if resp.StatusCode != 200 {
			t.Fatalf("first: %d", resp.StatusCode)
		}
		resp.Body.Close()
		req, _ := http.NewRequest("GET", profile, nil)
		req.Header = signed
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		want(t, resp, "oauth_nonce")
	})
	t.Run("stale timestamp", func(t *testing.T) {
		ts := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
		p := url.Values{"oauth_consumer_key": {legacyKey}, "oauth_token": {tok.Token}, "oauth_signature_method": {"HMAC-SHA1"},
			"oauth_timestamp": {ts}, "oauth_nonce": {"stale-timestamp-nonce"}, "oauth_version": {"1.0"}}
		u, _ := url.Parse(profile)
		h, err := oauth1.AuthorizationHeader("GET", u, nil, p, legacySecret, tok.TokenSecret)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", profile, nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if msg := want(t, resp, "oauth_timestamp"); !strings.HasPrefix(msg, "oauth_acceptable_timestamps=") {
			t.Fatalf("message %q", msg)
		}
	})
}

// TestLegacyOAuth1RevokedAuthorization: when the user revokes the app at
// Fitbit, the legacy app gets what Fitbit sent for a revoked OAuth 1.0a token
// (401 oauth, oauth_access_token), not the gateway's connect URL, and signs
// the user in again through its own flow, which works.
func TestLegacyOAuth1RevokedAuthorization(t *testing.T) {
	a := newLegacy(t)
	tok := a.authorize()
	a.sim.RevokeUser("ALICE1")
	resp, err := a.cfg.Client(context.Background(), tok).Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	it, ok := apierror.Parse(b)
	if resp.StatusCode != 401 || !ok || it.ErrorType != "oauth" || it.FieldName != "oauth_access_token" ||
		strings.Contains(string(b), "/fitbit/authorize") || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "OAuth ") {
		t.Fatalf("after revocation: %d %s (%s)", resp.StatusCode, b, resp.Header.Get("WWW-Authenticate"))
	}
	tok = a.authorize()
	resp, err = a.cfg.Client(context.Background(), tok).Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 200 || profileUser(m) == "" {
		t.Fatalf("after signing in again: %d %v", status, m)
	}
}

// TestLegacyOAuth1Metrics: outcomes are counted by endpoint and result, and
// the metrics hold no credential.
func TestLegacyOAuth1Metrics(t *testing.T) {
	a := newLegacy(t)
	tok := a.authorize()
	c := *a.cfg
	c.ConsumerSecret = "some-other-secret"
	resp, err := c.Client(context.Background(), tok).Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://localhost:2999/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`caddy_fitbit_oauth1_requests_total{endpoint="request_token",provider="fitbit",result="ok"}`,
		`caddy_fitbit_oauth1_requests_total{endpoint="access_token",provider="fitbit",result="ok"}`,
		`caddy_fitbit_oauth1_requests_total{endpoint="api",provider="fitbit",result="oauth_signature"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(b), tok.Token) || strings.Contains(string(b), tok.TokenSecret) {
		t.Fatal("metrics leak a credential")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
