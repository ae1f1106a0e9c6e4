package connect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const redirect = "http://gw.test/fitbit/callback"

type fixture struct {
	sim   *fitbitsim.Server
	store *storagestore.Store
	flow  *Flow
	clock time.Time
	dir   string // the store's
}

func newFixture(t testing.TB) *fixture { return newFixtureAt(t, redirect) }

// newFixtureAt is a fixture whose registration's redirect URI is redirect.
func newFixtureAt(t testing.TB, redirect string) *fixture {
	sim, err := fitbitsim.Start(fitbitsim.Config{RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	keys, err := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{sim: sim, clock: time.Now(), dir: t.TempDir()}
	fx.store = storagestore.New(&certmagic.FileStorage{Path: fx.dir}, keys, "")
	fx.store.Now = func() time.Time { return fx.clock }
	reg := provider.Registration{
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), RedirectURL: redirect,
		Endpoints: provider.Endpoints{AuthURL: sim.AuthorizeURL(), TokenURL: sim.TokenURL(), RevokeURL: sim.RevokeURL(), APIBase: sim.APIBase()},
	}.WithDefaults(provider.Fitbit)
	mgr := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: fx.store})
	rt, _ := NewReturnTo([]string{"/"})
	fx.flow = &Flow{Tokens: mgr, Store: fx.store, Prefix: "/fitbit", ReturnTo: rt, Now: func() time.Time { return fx.clock }}
	return fx
}

// authorize starts a flow for identity; it returns the provider URL and the
// binding cookie.
func (fx *fixture) authorize(t testing.TB, identity string) (*url.URL, *http.Cookie) {
	w := httptest.NewRecorder()
	fx.flow.Authorize(w, httptest.NewRequest("GET", "http://gw.test/fitbit/authorize", nil), identity)
	if w.Code != http.StatusFound {
		t.Fatalf("authorize: %d %s", w.Code, w.Body)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	return u, w.Result().Cookies()[0]
}

// consent gets a code from the simulator and returns the callback query.
func (fx *fixture) consent(t testing.TB, u *url.URL) string {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	return cb.RawQuery
}

func (fx *fixture) callback(query string, cookie *http.Cookie, identity string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://gw.test/fitbit/callback", nil)
	r.URL.RawQuery = query // as the server received it, however malformed
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	fx.flow.Callback(w, r, identity)
	return w
}

func TestCallbackCompletesOnce(t *testing.T) {
	fx := newFixture(t)
	u, cookie := fx.authorize(t, "alice")
	q := fx.consent(t, u)
	if w := fx.callback(q, cookie, ""); w.Code != 200 || !strings.Contains(w.Body.String(), "connected") {
		t.Fatalf("callback: %d %s", w.Code, w.Body)
	}
	rec, err := fx.store.LoadConnection(t.Context(), tokenstore.KeyOf("fitbit", "alice"))
	if err != nil || rec.UserID != fitbitsim.DefaultUserID || rec.RefreshToken == "" {
		t.Fatalf("stored: %v %v", rec, err)
	}
	if w := fx.callback(q, cookie, ""); w.Code != 400 {
		t.Fatalf("second callback: %d", w.Code)
	}
}

func TestCallbackExpiredState(t *testing.T) {
	fx := newFixture(t)
	u, cookie := fx.authorize(t, "alice")
	q := fx.consent(t, u)
	fx.clock = fx.clock.Add(DefaultPendingTTL + time.Second)
	w := fx.callback(q, cookie, "")
	if w.Code != 400 || !strings.Contains(w.Body.String(), "expired") {
		t.Fatalf("expired state: %d %s", w.Code, w.Body)
	}
	if st := fx.sim.Stats(); st.CodeExchanges != 0 {
		t.Fatalf("an expired state reached the token endpoint: %+v", st)
	}
}

func TestCallbackProviderErrorIsScrubbed(t *testing.T) {
	fx := newFixture(t)
	u, cookie := fx.authorize(t, "alice")
	state := u.Query().Get("state")
	secret := strings.Repeat("ab12", 16)
	w := fx.callback("state="+state+"&error=server_error&error_description=token+"+secret, cookie, "")
	if w.Code != http.StatusBadGateway || strings.Contains(w.Body.String(), secret) {
		t.Fatalf("provider error: %d %s", w.Code, w.Body)
	}
}

func TestCallbackBadCodeIsAClearError(t *testing.T) {
	fx := newFixture(t)
	u, cookie := fx.authorize(t, "alice")
	state := u.Query().Get("state")
	code := strings.Repeat("c0de", 10)
	w := fx.callback("state="+state+"&code="+code, cookie, "")
	if w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), code) || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Fatalf("bad code: %d %s", w.Code, w.Body)
	}
}

func TestAuthorizeReusesBrowserBinding(t *testing.T) {
	fx := newFixture(t)
	_, first := fx.authorize(t, "alice")
	r := httptest.NewRequest("GET", "http://gw.test/fitbit/authorize", nil)
	r.AddCookie(first)
	w := httptest.NewRecorder()
	fx.flow.Authorize(w, r, "alice")
	if second := w.Result().Cookies()[0]; second.Value != first.Value {
		t.Fatal("a second flow in the same browser replaced the binding, breaking the first")
	}
}

func FuzzCallback(f *testing.F) {
	fx := newFixture(f)
	u, cookie := fx.authorize(f, "alice")
	f.Add("state=" + u.Query().Get("state") + "&code=abc")
	f.Add("state=x&error=access_denied")
	f.Add("code=%zz&state=%00")
	f.Add(strings.Repeat("a=b&", 100))
	f.Fuzz(func(t *testing.T, query string) {
		w := fx.callback(query, cookie, "")
		switch w.Code {
		case 200, 400, 403, 502, 503:
		default:
			t.Fatalf("callback?%q answered %d", query, w.Code)
		}
	})
}

// TestBeginContinuesInsideTheGateway: a connection started by a caller
// inside the gateway (the legacy OAuth 1.0a authorize step) goes on after
// the callback to the path its Resume names, never to an external address.
func TestBeginContinuesInsideTheGateway(t *testing.T) {
	fx := newFixture(t)
	resume := map[string]string{
		"oauth1:x": "/oauth/authorize?oauth_token=abc",
		"oauth1:y": "https://evil.example/",
		"oauth1:z": "//evil.example/",
		"oauth1:w": `/\evil.example`,
	}
	fx.flow.Resume = func(_ context.Context, identity string) (string, bool) {
		next, ok := resume[identity]
		return next, ok
	}
	connect := func(identity string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		fx.flow.Begin(w, httptest.NewRequest("GET", "http://gw.test/oauth/authorize?oauth_token=abc", nil), identity, provider.Consent{})
		if w.Code != http.StatusFound {
			t.Fatalf("begin %s: %d %s", identity, w.Code, w.Body)
		}
		u, _ := url.Parse(w.Header().Get("Location"))
		return fx.callback(fx.consent(t, u), w.Result().Cookies()[0], "")
	}
	if cb := connect("oauth1:x"); cb.Code != http.StatusSeeOther || cb.Header().Get("Location") != "/oauth/authorize?oauth_token=abc" {
		t.Fatalf("callback: %d %q", cb.Code, cb.Header().Get("Location"))
	}
	if _, err := fx.flow.Tokens.Lookup(t.Context(), "oauth1:x"); err != nil {
		t.Fatalf("not connected: %v", err)
	}
	// Not a path on this gateway, or nothing to resume: the connected page.
	for _, identity := range []string{"oauth1:y", "oauth1:z", "oauth1:w", "oauth1:none"} {
		if cb := connect(identity); cb.Code != http.StatusOK || cb.Header().Get("Location") != "" {
			t.Errorf("callback of %s: %d %q", identity, cb.Code, cb.Header().Get("Location"))
		}
	}
	w := httptest.NewRecorder()
	fx.flow.Begin(w, httptest.NewRequest("GET", "http://gw.test/oauth/authorize", nil), "", provider.Consent{})
	if w.Code != http.StatusInternalServerError {
		t.Errorf("Begin with no identity: %d", w.Code)
	}
}

// TestDenialResumesInsideTheGateway: a declined consent of a connection
// begun inside the gateway goes to ResumeDenied's path (the Fitbit OAuth
// 2.0 front then tells its app access_denied), and connects nothing.
func TestDenialResumesInsideTheGateway(t *testing.T) {
	fx := newFixture(t)
	fx.flow.ResumeDenied = func(_ context.Context, identity string) (string, bool) {
		return "/oauth2/authorize?resume=1&denied=1", identity == "oauth2:x"
	}
	w := httptest.NewRecorder()
	fx.flow.Begin(w, httptest.NewRequest("GET", "http://gw.test/oauth2/authorize", nil), "oauth2:x", provider.Consent{})
	u, _ := url.Parse(w.Header().Get("Location"))
	cb := fx.callback("state="+url.QueryEscape(u.Query().Get("state"))+"&error=access_denied", w.Result().Cookies()[0], "")
	if cb.Code != http.StatusSeeOther || cb.Header().Get("Location") != "/oauth2/authorize?resume=1&denied=1" {
		t.Fatalf("callback: %d %q", cb.Code, cb.Header().Get("Location"))
	}
	if _, err := fx.flow.Tokens.Lookup(t.Context(), "oauth2:x"); err == nil {
		t.Fatal("a denial connected the identity")
	}
}

// A connection begun inside the gateway for chosen scopes asks the
// provider for those, not the registration's.
func TestBeginAsksForItsScopes(t *testing.T) {
	fx := newFixture(t)
	w := httptest.NewRecorder()
	fx.flow.Begin(w, httptest.NewRequest("GET", "http://gw.test/oauth2/authorize", nil), "oauth2:x", provider.Consent{Scopes: []string{"profile"}})
	u, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || u.Query().Get("scope") != "profile" {
		t.Fatalf("consent %d %s", w.Code, u)
	}
}
