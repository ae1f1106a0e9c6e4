package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// accessLogFilter is README › Operations' access log with the OAuth
// parameters taken out (Caddy logs the request as it arrived, before any
// handler runs, so the gateway cannot redact it itself). %s is the file.
const accessLogFilter = `log {
		output file %s
		format filter {
			wrap json
			request>uri query {
				replace code REDACTED
				replace state REDACTED
				replace oauth_token REDACTED
				replace oauth_verifier REDACTED
			}
			request>headers>Referer query {
				replace code REDACTED
				replace state REDACTED
				replace oauth_token REDACTED
				replace oauth_verifier REDACTED
			}
			resp_headers>Location query {
				replace code REDACTED
				replace state REDACTED
				replace oauth_token REDACTED
				replace oauth_verifier REDACTED
			}
		}
	}`

func accessLogBlock(path string) string { return strings.Replace(accessLogFilter, "%s", path, 1) }

// waitForLog returns the access log once it holds want (Caddy writes the
// entry after the answer went out), failing after a bounded wait.
func waitForLog(t *testing.T, path, want string) string {
	t.Helper()
	for range 500 {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the access log never recorded %q", want)
	return ""
}

// TestAccessLogFilterKeepsTheCodeAndStateOut: with README's log filter,
// Caddy's access log records the callback (and the redirect to Fitbit)
// without the authorization code or the state.
func TestAccessLogFilterKeepsTheCodeAndStateOut(t *testing.T) {
	e := newEnv(t, options{})
	logPath := filepath.Join(e.dir, "access.log")
	e.load(options{SiteExtra: accessLogBlock(logPath)})

	alice := e.browser("alice")
	_, authURL := e.startAuthorize(alice, "")
	state := authURL.Query().Get("state")
	cb := e.consentAt(authURL)
	code := cb.Query().Get("code")
	if state == "" || code == "" {
		t.Fatalf("no state or code: %s", cb)
	}
	resp, body := e.do(alice, "GET", cb.RequestURI(), nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Connected") {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	wantNoFraming(t, resp)

	log := waitForLog(t, logPath, `"uri":"/fitbit/callback?`)
	for name, secret := range map[string]string{"code": code, "state": state} {
		if strings.Contains(log, secret) {
			t.Errorf("the access log holds the %s", name)
		}
	}
	if !strings.Contains(log, "code=REDACTED") || !strings.Contains(log, "state=REDACTED") {
		t.Errorf("the access log does not show the redacted callback:\n%s", log)
	}
}

// TestAccessLogFilterKeepsTheVerifierOut: the same filter keeps an OAuth
// 1.0a app's request token and verifier out of the access log, where they
// appear in /oauth/authorize?oauth_token=… and in the Location of its
// redirect to the app's callback.
func TestAccessLogFilterKeepsTheVerifierOut(t *testing.T) {
	a := newLegacy(t)
	logPath := filepath.Join(a.dir, "access.log")
	site := strings.NewReplacer("{{.Alice}}", hashes["alice"], "{{.Bob}}", hashes["bob"]).Replace(legacySite)
	a.load(options{Site: site + "\n\t" + accessLogBlock(logPath), FitbitExtra: "oauth1_consumer " + legacyKey + " " + legacySecret})

	a.authorize()
	a.mu.Lock()
	q := a.callbacks[len(a.callbacks)-1]
	a.mu.Unlock()
	token, verifier := q.Get("oauth_token"), q.Get("oauth_verifier")

	log := waitForLog(t, logPath, "oauth_verifier=REDACTED")
	if strings.Contains(log, token) || strings.Contains(log, verifier) {
		t.Errorf("the access log holds the request token or the verifier:\n%s", log)
	}

	// The legacy authorize page (an expired link here) refuses framing too.
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(gateway + "/oauth/authorize?oauth_token=unknown")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unknown request token: %d", resp.StatusCode)
	}
	wantNoFraming(t, resp)
}

// wantNoFraming checks that a page forbids every site to frame it.
func wantNoFraming(t *testing.T, resp *http.Response) {
	t.Helper()
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("page %s may be framed: CSP %q, X-Frame-Options %q", resp.Request.URL.Path,
			resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Frame-Options"))
	}
}
