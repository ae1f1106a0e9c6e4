package legacy_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// peer is a second instance of the gateway over the harness's storage,
// serving the token endpoints and the authorize step.
func (h *harness) peer() string {
	h.t.Helper()
	keys, _ := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{9}, tokenstore.KeySize)})
	store := storagestore.New(&certmagic.FileStorage{Path: h.dir}, keys, "")
	store.Now = h.clock
	peer := &legacy.Server{Consumers: h.srv.Consumers, Entries: store, Connector: h.conn, Now: h.clock}
	peer.Init()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !peer.ServeEndpoint(w, r) {
			http.NotFound(w, r)
		}
	}))
	h.t.Cleanup(ts.Close)
	return ts.URL
}

// browser is a cookie-keeping client; visit follows redirects like one.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}}
}

func (b *browser) visit(u string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// start gets a request token from the app and its authorize link.
func (h *harness) start(cfg *dghubble.Config) (token, secret, link string) {
	h.t.Helper()
	token, secret, err := cfg.RequestToken()
	if err != nil {
		h.t.Fatal(err)
	}
	au, err := cfg.AuthorizationURL(token)
	if err != nil {
		h.t.Fatal(err)
	}
	return token, secret, au.String()
}

func (h *harness) callbackCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.callbacks)
}

// TestVerifierFixation is the attack the OAuth 1.0a verifier exists to stop
// (RFC 5849 §4.13 is its cousin): an attacker starts a sign-in in the app,
// has a victim consent through the link, then opens the same link himself —
// on another instance of the cluster, with no cookie or with his own — to
// learn the verifier and redeem the request token for the victim's data.
func TestVerifierFixation(t *testing.T) {
	h := newHarness(t)
	peer := h.peer()
	cfg := h.config(consumerKey, consumerSecret) // the app, in the attacker's session
	rt, rs, link := h.start(cfg)

	// The victim opens the link and consents: the app's callback, in the
	// victim's browser, gets the verifier.
	victim := newBrowser(t)
	if status, body := victim.visit(link); status != 200 || body != "app callback" {
		t.Fatalf("victim: %d %q", status, body)
	}
	verifier := h.callbacks[0].Get("oauth_verifier")

	// The attacker fetches the same link, on either instance, cookieless
	// or with a binding cookie of his own sign-in.
	_, _, own := h.start(cfg)
	attacker := newBrowser(t)
	attacker.visit(own)
	for name, b := range map[string]*browser{"cookieless": newBrowser(t), "with his own cookie": attacker} {
		for _, base := range []string{h.gateway.URL, peer} {
			before := h.callbackCount()
			status, body := b.visit(strings.Replace(link, h.gateway.URL, base, 1))
			if status != http.StatusForbidden || !strings.Contains(body, "another browser") {
				t.Errorf("attacker %s at %s: %d %q", name, base, status, body)
			}
			if strings.Contains(body, verifier) || h.callbackCount() != before {
				t.Fatalf("attacker %s at %s learned the verifier", name, base)
			}
		}
	}
	// Without the verifier the exchange fails, and leaves the token as it
	// was: the victim's browser was the one to finish the sign-in.
	for _, guess := range []string{"", "0123456789abcdef0123"} {
		if _, _, err := cfg.AccessToken(rt, rs, guess); err == nil || !strings.Contains(err.Error(), "oauth_verifier") {
			t.Fatalf("exchange with verifier %q: %v", guess, err)
		}
	}
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err != nil {
		t.Fatalf("the exchange with the revealed verifier after wrong ones: %v", err)
	}
}

// The verifier is shown once, even to the browser that consented; a second
// visit neither redirects again nor shows it.
func TestVerifierIsRevealedOnce(t *testing.T) {
	h := newHarness(t)
	peer := h.peer()
	cfg := h.config(consumerKey, consumerSecret)
	_, _, link := h.start(cfg)
	b := newBrowser(t)
	if status, body := b.visit(link); status != 200 || body != "app callback" {
		t.Fatalf("first visit: %d %q", status, body)
	}
	verifier := h.callbacks[0].Get("oauth_verifier")
	for _, base := range []string{h.gateway.URL, peer} {
		status, body := b.visit(strings.Replace(link, h.gateway.URL, base, 1))
		if status != http.StatusBadRequest || !strings.Contains(body, "already finished") || strings.Contains(body, verifier) {
			t.Errorf("revisit at %s: %d %q", base, status, body)
		}
	}
	if n := h.callbackCount(); n != 1 {
		t.Fatalf("%d callbacks, want 1", n)
	}
}

// Before consent, a second browser holding the link starts nothing: no
// second connect that could replace the first.
func TestSecondBrowserBeforeConsentStartsNothing(t *testing.T) {
	h := newHarness(t)
	peer := h.peer()
	h.conn.refuse = true // the first browser is at the provider's consent page
	cfg := h.config(consumerKey, consumerSecret)
	_, _, link := h.start(cfg)
	first := newBrowser(t)
	if _, body := first.visit(link); !strings.Contains(body, "consent refused") {
		t.Fatalf("first browser: %q", body)
	}
	h.conn.refuse = false
	for _, base := range []string{h.gateway.URL, peer} {
		status, body := newBrowser(t).visit(strings.Replace(link, h.gateway.URL, base, 1))
		if status != http.StatusForbidden || !strings.Contains(body, "another browser") {
			t.Errorf("second browser at %s: %d %q", base, status, body)
		}
	}
	if h.conn.begun != 1 || len(h.conn.connected) != 0 {
		t.Fatalf("begun %d, connected %v: the second browser started a connect", h.conn.begun, h.conn.connected)
	}
	// The first browser, on either instance, goes on.
	if status, body := first.visit(strings.Replace(link, h.gateway.URL, peer, 1)); status != 200 || body != "app callback" {
		t.Fatalf("first browser again: %d %q", status, body)
	}
	// A HEAD (a link checker) claims nothing either.
	_, _, link2 := h.start(cfg)
	if resp, err := http.Head(link2); err != nil || resp.StatusCode != 200 || len(resp.Cookies()) != 0 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	if status, body := newBrowser(t).visit(link2); status != 200 || body != "app callback" {
		t.Fatalf("after a HEAD: %d %q", status, body)
	}
}

// Out of band, the page shows the verifier to the consenting browser, once.
func TestOutOfBandRevealsOnceToItsBrowser(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	cfg.CallbackURL = "oob"
	_, _, link := h.start(cfg)
	b := newBrowser(t)
	if status, body := b.visit(link); status != 200 || !strings.Contains(body, "Enter this code") {
		t.Fatalf("oob: %d %q", status, body)
	}
	for name, other := range map[string]*browser{"same browser": b, "another browser": newBrowser(t)} {
		if status, body := other.visit(link); status == 200 || strings.Contains(body, "Enter this code") {
			t.Errorf("%s again: %d %q", name, status, body)
		}
	}
}

// The binding cookie is __Host- and Secure over TLS, plain on http://.
func TestBindingCookie(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	h.conn.refuse = true
	tlsTS := httptest.NewTLSServer(h.gateway.Config.Handler)
	defer tlsTS.Close()
	for _, tc := range []struct {
		base, name string
		client     *http.Client
		secure     bool
	}{
		{h.gateway.URL, "fitbit_oauth1", http.DefaultClient, false},
		{tlsTS.URL, "__Host-fitbit_oauth1", tlsTS.Client(), true},
	} {
		_, _, link := h.start(cfg)
		resp, err := tc.client.Get(strings.Replace(link, h.gateway.URL, tc.base, 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var found bool
		for _, c := range resp.Cookies() {
			if c.Name == tc.name {
				found = true
				if c.Path != "/" || !c.HttpOnly || c.Secure != tc.secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 || len(c.Value) != 43 {
					t.Errorf("cookie %+v", c)
				}
			}
		}
		if !found {
			t.Errorf("no %s cookie in %v", tc.name, resp.Cookies())
		}
	}
}
