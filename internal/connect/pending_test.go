package connect

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// visit is a GET of /fitbit/authorize (with query) by a browser holding
// cookie (nil: none) at flow.
func visit(flow *Flow, query string, cookie *http.Cookie, identity string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://gw.test/fitbit/authorize?"+query, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	flow.Authorize(w, r, identity)
	return w
}

func stateOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code != http.StatusFound {
		t.Fatalf("authorize: %d %s", w.Code, w.Body)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	return u.Query().Get("state")
}

func (fx *fixture) pendingFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(fx.dir, "fitbit", "pending"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

// peer is a second instance of the flow over the fixture's storage.
func (fx *fixture) peer() Flow {
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	store := storagestore.New(&certmagic.FileStorage{Path: fx.dir}, keys, "")
	store.Now = func() time.Time { return fx.clock }
	peer := *fx.flow
	peer.Store = store
	return peer
}

// A browser that comes back to authorize — on any instance — is sent on
// with the authorization it started: no new pending authorization.
func TestAuthorizeReusesThePendingAuthorization(t *testing.T) {
	fx := newFixture(t)
	peer := fx.peer()

	u, cookie := fx.authorize(t, "alice")
	first := u.Query().Get("state")
	for i, flow := range []*Flow{fx.flow, &peer, fx.flow} {
		if s := stateOf(t, visit(flow, "", cookie, "alice")); s != first {
			t.Fatalf("visit %d started a new authorization", i+2)
		}
	}
	if n := fx.pendingFiles(t); n != 1 {
		t.Fatalf("%d pending authorizations stored, want 1", n)
	}
	// A new return_to rewrites the one authorization, and the callback
	// goes there.
	if s := stateOf(t, visit(&peer, "return_to=/app/settings", cookie, "alice")); s != first {
		t.Fatal("a new return_to started a new authorization")
	}
	cb := fx.callback(fx.consent(t, u), cookie, "")
	if cb.Code != http.StatusSeeOther || cb.Header().Get("Location") != "/app/settings" {
		t.Fatalf("callback: %d %q", cb.Code, cb.Header().Get("Location"))
	}
	// Used: the next visit starts afresh.
	if s := stateOf(t, visit(fx.flow, "", cookie, "alice")); s == first {
		t.Fatal("a used authorization was reused")
	}
	// Another identity, or a browser past half the pending TTL, gets its own.
	if s := stateOf(t, visit(fx.flow, "", cookie, "bob")); s == first {
		t.Fatal("bob reused alice's authorization")
	}
	second := stateOf(t, visit(fx.flow, "", cookie, "alice"))
	fx.clock = fx.clock.Add(DefaultPendingTTL/2 + time.Second)
	if s := stateOf(t, visit(fx.flow, "", cookie, "alice")); s == second {
		t.Fatal("an authorization with less than half its time left was reused")
	}
}

// An identity's authorizations in flight are capped across instances; a
// callback frees its place.
func TestPendingAuthorizationsAreCappedPerIdentity(t *testing.T) {
	fx := newFixture(t)
	fx.flow.MaxPending = 2
	peer := fx.peer()

	u, cookie := fx.authorize(t, "alice")      // browser 1
	stateOf(t, visit(&peer, "", nil, "alice")) // browser 2, on the peer
	for _, flow := range []*Flow{fx.flow, &peer} {
		w := visit(flow, "", nil, "alice")
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Fatalf("third browser: %d %v", w.Code, w.Header())
		}
	}
	if n := fx.pendingFiles(t); n != 2 {
		t.Fatalf("%d pending authorizations stored, want 2", n)
	}
	stateOf(t, visit(fx.flow, "", nil, "bob")) // others are not affected
	stateOf(t, visit(fx.flow, "", cookie, "alice"))
	if cb := fx.callback(fx.consent(t, u), cookie, ""); cb.Code != 200 {
		t.Fatalf("callback: %d %s", cb.Code, cb.Body)
	}
	stateOf(t, visit(&peer, "", nil, "alice"))
	// Places expire with the pending TTL.
	fx.clock = fx.clock.Add(DefaultPendingTTL + time.Second)
	stateOf(t, visit(&peer, "", nil, "alice"))
	stateOf(t, visit(&peer, "", nil, "alice"))
}

// authorize and callback are limited per client IP and per identity, with
// a page and an accurate Retry-After.
func TestAuthorizeAndCallbackAreRateLimited(t *testing.T) {
	fx := newFixture(t)
	m := ratelimit.NewMemory(0)
	m.Now = func() time.Time { return fx.clock }
	fx.flow.Gate = &ratelimit.Gate{Limiter: m, Name: "browser",
		PerIP: ratelimit.Limit{Events: 3, Period: time.Minute}, PerIdentity: ratelimit.Limit{Events: 2, Period: time.Minute}}
	fx.flow.ClientIP = func(r *http.Request) string { return r.Header.Get("Test-Client-IP") }

	from := func(ip, identity string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://gw.test/fitbit/authorize", nil)
		r.Header.Set("Test-Client-IP", ip)
		w := httptest.NewRecorder()
		fx.flow.Authorize(w, r, identity)
		return w
	}
	stateOf(t, from("192.0.2.1", "alice"))
	stateOf(t, from("192.0.2.2", "alice"))
	w := from("192.0.2.3", "alice") // alice's third in a minute
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Fatalf("alice's third: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	stateOf(t, from("192.0.2.1", "bob"))
	stateOf(t, from("192.0.2.1", "carol"))
	if w := from("192.0.2.1", "dave"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "20" {
		t.Fatalf("192.0.2.1's fourth: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	// The callback shares the browser budget of its client IP.
	r := httptest.NewRequest("GET", "http://gw.test/fitbit/callback?state=x&code=y", nil)
	r.Header.Set("Test-Client-IP", "192.0.2.1")
	cb := httptest.NewRecorder()
	fx.flow.Callback(cb, r, "")
	if cb.Code != http.StatusTooManyRequests {
		t.Fatalf("callback over the rate: %d", cb.Code)
	}
	fx.clock = fx.clock.Add(20 * time.Second)
	stateOf(t, from("192.0.2.1", "dave"))
}

// A front's sign-in that comes back asking other scopes reuses the
// authorization it started, now asking those: the consent URL and the
// stored authorization both name them.
func TestReusedAuthorizationAsksTheNewScopes(t *testing.T) {
	fx := newFixture(t)
	begin := func(cookie *http.Cookie, scopes ...string) (*url.URL, *http.Cookie) {
		t.Helper()
		r := httptest.NewRequest("GET", "http://gw.test/oauth2/authorize", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		fx.flow.Begin(w, r, "oauth2:alice", provider.Consent{Scopes: scopes})
		if w.Code != http.StatusFound {
			t.Fatalf("begin: %d %s", w.Code, w.Body)
		}
		u, _ := url.Parse(w.Header().Get("Location"))
		if cs := w.Result().Cookies(); len(cs) > 0 {
			cookie = cs[0]
		}
		return u, cookie
	}
	first, cookie := begin(nil, "activity")
	again, _ := begin(cookie, "activity", "sleep")
	if again.Query().Get("state") != first.Query().Get("state") {
		t.Fatal("the browser's authorization was not reused")
	}
	if got := again.Query().Get("scope"); got != "activity sleep" {
		t.Fatalf("consent asks %q", got)
	}
	p, err := fx.store.TakePending(t.Context(), first.Query().Get("state"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Scopes, []string{"activity", "sleep"}) {
		t.Fatalf("stored authorization asks %q", p.Scopes)
	}
}
