package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
)

type fitbitConsent = fitbitsim.Consent

// startAuthorize begins a connection without following the redirect and
// returns the provider URL the gateway sent the browser to.
func (e *env) startAuthorize(c *http.Client, query string) (*http.Response, *url.URL) {
	e.t.Helper()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := e.do(c, "GET", "/fitbit/authorize"+query, nil, nil)
	c.CheckRedirect = nil
	if resp.StatusCode != http.StatusFound {
		return resp, nil
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, u
}

// consentAt asks the simulated Fitbit for a code and returns the callback
// URL it redirects to.
func (e *env) consentAt(authURL *url.URL) *url.URL {
	e.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL.String())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		e.t.Fatalf("simulator consent: %d %v", resp.StatusCode, err)
	}
	return cb
}

func TestAuthorizeRequestIsPKCEAndCookieBound(t *testing.T) {
	e := newEnv(t, options{})
	resp, u := e.startAuthorize(e.browser("alice"), "")
	if u == nil {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	q := u.Query()
	for k, want := range map[string]string{"client_id": e.sim.ClientID(), "response_type": "code", "code_challenge_method": "S256", "redirect_uri": gateway + "/fitbit/callback"} {
		if q.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 32 || q.Get("scope") != "activity heartrate profile sleep" {
		t.Errorf("authorize query: %v", q)
	}
	var binding *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "fitbit_connect" {
			binding = c
		}
	}
	if binding == nil || !binding.HttpOnly || binding.SameSite != http.SameSiteLaxMode {
		t.Fatalf("binding cookie: %+v", binding)
	}
	// Without an identity there is nothing to bind the tokens to.
	resp, _ = e.do(&http.Client{}, "GET", "/fitbit/authorize", nil, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("anonymous authorize: %d", resp.StatusCode)
	}
}

func TestCallbackRejectsForgedReplayedAndForeignState(t *testing.T) {
	e := newEnv(t, options{})
	alice := e.browser("alice")

	// Forged state.
	resp, body := e.do(alice, "GET", "/fitbit/callback?code=abc&state=forged-state-value", nil, nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "Unknown or used") {
		t.Fatalf("forged state: %d %s", resp.StatusCode, body)
	}
	// Malformed callbacks.
	for _, q := range []string{"", "?code=abc", "?state=" + strings.Repeat("a", 5000)} {
		if resp, _ := e.do(alice, "GET", "/fitbit/callback"+q, nil, nil); resp.StatusCode != 400 {
			t.Errorf("callback%s: %d", q[:min(len(q), 20)], resp.StatusCode)
		}
	}

	// A real code, presented from another browser (no binding cookie): refused.
	_, authURL := e.startAuthorize(alice, "")
	cb := e.consentAt(authURL)
	resp, body = e.do(e.browser("alice"), "GET", cb.RequestURI(), nil, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "another browser") {
		t.Fatalf("foreign browser: %d %s", resp.StatusCode, body)
	}

	// Replayed: the state is single-use.
	_, authURL = e.startAuthorize(alice, "")
	cb = e.consentAt(authURL)
	if resp, body := e.do(alice, "GET", cb.RequestURI(), nil, nil); resp.StatusCode != 200 {
		t.Fatalf("first callback: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(alice, "GET", cb.RequestURI(), nil, nil)
	if resp.StatusCode != 400 || !strings.Contains(body, "Unknown or used") {
		t.Fatalf("replayed callback: %d %s", resp.StatusCode, body)
	}

	// Two callbacks racing for one state: exactly one wins.
	_, authURL = e.startAuthorize(alice, "")
	cb = e.consentAt(authURL)
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", gateway+cb.RequestURI(), nil)
			resp, err := alice.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == 200 {
			ok++
		} else if c != 400 {
			t.Errorf("racing callback got %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d racing callbacks succeeded, want 1", ok)
	}

	// The identity at the callback must be the one that started.
	_, authURL = e.startAuthorize(alice, "")
	cb = e.consentAt(authURL)
	aliceJar := alice.Jar
	bobWithAlicesCookie := e.browser("bob")
	bobWithAlicesCookie.Jar = aliceJar
	resp, body = e.do(bobWithAlicesCookie, "GET", cb.RequestURI(), nil, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "someone other") {
		t.Fatalf("other identity at callback: %d %s", resp.StatusCode, body)
	}
	if st := e.sim.Stats(); st.CodeExchanges != 2 {
		t.Fatalf("code exchanges: %+v (want only the two legitimate ones)", st)
	}
}

func TestReturnToAllowList(t *testing.T) {
	e := newEnv(t, options{})
	for _, bad := range []string{"https://evil.example.com/", "//evil.example.com/x", "/\\evil.example.com", "https://app.example.com.evil.com/", "/appx", "javascript:alert(1)", "/app/../admin"} {
		resp, _ := e.startAuthorize(e.browser("alice"), "?return_to="+url.QueryEscape(bad))
		if resp.StatusCode != 400 {
			t.Errorf("return_to %q: %d, want 400", bad, resp.StatusCode)
		}
	}
	alice := e.browser("alice")
	_, authURL := e.startAuthorize(alice, "?return_to="+url.QueryEscape("https://app.example.com/done?x=1"))
	cb := e.consentAt(authURL)
	alice.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := e.do(alice, "GET", cb.RequestURI(), nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example.com/done?x=1" {
		t.Fatalf("allowed return_to: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestNoTokenInStorageOrLogs(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	e.mustConnect("bob")
	e.sim.ExpireAccessTokens("ALICE1")
	e.get("alice", "/1/user/-/profile.json") // refresh and replay
	e.sim.RevokeUser("BOB222")
	e.get("bob", "/1/user/-/profile.json") // invalid_grant: Fitbit's message holds the token
	e.do(e.app("alice"), "POST", "/fitbit/disconnect", nil, nil)
	e.do(e.browser("alice"), "GET", "/fitbit/callback?code=deadbeef&state=x", nil, nil)

	secrets := e.sim.IssuedSecrets()
	if len(secrets) < 6 {
		t.Fatalf("only %d secrets issued", len(secrets))
	}
	if found := secretsIn(t, e.dir, secrets); len(found) > 0 {
		t.Fatalf("secrets in plain text: %v", found)
	}
	// And the identities are not in storage paths or contents either.
	if found := secretsIn(t, e.dir+"/storage", []string{"alice", "bob"}); len(found) > 0 {
		t.Fatalf("raw identity in storage: %v", found)
	}
}
