package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

// link gets a request token from the gateway and its authorize link.
func (a *legacyApp) link() (token, secret, link string) {
	a.t.Helper()
	rt, rs, err := a.cfg.RequestToken()
	if err != nil {
		a.t.Fatalf("request_token: %v", err)
	}
	au, _ := a.cfg.AuthorizationURL(rt)
	return rt, rs, au.String()
}

func (a *legacyApp) callbackCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.callbacks)
}

func fetch(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func cookieBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// TestLegacyVerifierFixation is #10's attack through real Caddy and the
// real connect flow, on both stores: the attacker starts a sign-in in the
// app, the victim consents through the link, the attacker opens the same
// link: he gets a page, the verifier stays with the victim's browser, and
// without it the exchange fails.
func TestLegacyVerifierFixation(t *testing.T) {
	for name, extra := range map[string][]string{
		"storage": nil,
		"redis":   {"store redis {\n\t\t\taddress " + redistest.Start(t) + "\n\t\t\tkey_prefix e2e\n\t\t}"},
	} {
		t.Run(name, func(t *testing.T) {
			a := newLegacy(t, extra...)
			rt, rs, link := a.link()
			if status, body := fetch(t, cookieBrowser(), link); status != 200 || body != "legacy app callback" {
				t.Fatalf("victim: %d %s", status, body)
			}
			verifier := a.callbacks[0].Get("oauth_verifier")
			for who, c := range map[string]*http.Client{"cookieless": http.DefaultClient, "another browser": cookieBrowser()} {
				status, body := fetch(t, c, link)
				if status != http.StatusForbidden || !strings.Contains(body, "another browser") || strings.Contains(body, verifier) {
					t.Fatalf("attacker, %s: %d %s", who, status, body)
				}
			}
			if n := a.callbackCount(); n != 1 {
				t.Fatalf("%d app callbacks, want the victim's alone", n)
			}
			if _, _, err := a.cfg.AccessToken(rt, rs, "0123456789abcdef0123"); err == nil || !strings.Contains(err.Error(), "oauth_verifier") {
				t.Fatalf("exchange with a guessed verifier: %v", err)
			}
			if _, _, err := a.cfg.AccessToken(rt, rs, verifier); err != nil {
				t.Fatalf("the victim's app exchange after a wrong verifier: %v", err)
			}
		})
	}
}

// Before consent, a second browser with the link starts no connect; the
// first one finishes.
func TestLegacySecondBrowserBeforeConsent(t *testing.T) {
	a := newLegacy(t)
	_, _, link := a.link()
	first := cookieBrowser()
	first.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), gateway) {
			return nil
		}
		return http.ErrUseLastResponse // at the provider's consent page
	}
	resp, err := first.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	consent := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || strings.HasPrefix(consent, gateway) {
		t.Fatalf("first browser: %d %s", resp.StatusCode, consent)
	}
	second := &http.Client{CheckRedirect: first.CheckRedirect}
	resp, err = second.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("second browser: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	first.CheckRedirect = nil
	if status, body := fetch(t, first, consent); status != 200 || body != "legacy app callback" {
		t.Fatalf("first browser after consent: %d %s", status, body)
	}
}

// The token endpoints answer 429 with Retry-After in Fitbit's envelope past
// their per-IP rate, configured in the Caddyfile.
func TestLegacyTokenEndpointRateLimit(t *testing.T) {
	a := newLegacy(t, "rate_limits {\n\t\t\ttoken_per_ip 2 1m\n\t\t}")
	a.link()
	a.link()
	_, _, err := a.cfg.RequestToken()
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("third request_token: %v", err)
	}
	req, _ := http.NewRequest("POST", gateway+"/oauth/request_token", nil)
	req.Header.Set("Authorization", `OAuth oauth_consumer_key="`+legacyKey+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	it, ok := apierror.Parse(b)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || !ok || it.ErrorType != "oauth" || retry < 1 || retry > 30 {
		t.Fatalf("over the rate: %d %s Retry-After %q", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
}
