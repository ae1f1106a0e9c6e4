package connect

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// home gets the connections page as a browser (with cookies) and returns
// the answer, the CSRF token in its forms and the CSRF cookie.
func (fx *fixture) home(t *testing.T, identity string, cookies ...*http.Cookie) (*httptest.ResponseRecorder, string, *http.Cookie) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://gw.test/fitbit/", nil)
	r.Header.Set("Accept", browserAccept)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	fx.flow.Home(w, r, identity)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("connections page: %d, no CSRF token in %s", w.Code, w.Body)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == CSRFCookieName {
			cookie = c
		}
	}
	if cookie == nil && len(cookies) > 0 {
		cookie = cookies[0]
	}
	return w, html.UnescapeString(m[1]), cookie
}

// post posts a connections-page form to path as a browser of this origin.
func (fx *fixture) post(path, identity, token string, cookie *http.Cookie, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "http://gw.test"+path, strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", browserAccept)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Origin", "http://gw.test")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	switch {
	case strings.HasPrefix(path, "/fitbit/authorize"):
		fx.flow.Authorize(w, r, identity)
	default:
		fx.flow.Disconnect(w, r, identity)
	}
	return w
}

func TestHomeNegotiates(t *testing.T) {
	fx := newFixture(t)
	for _, accept := range []string{"", "*/*", "application/json"} {
		r := httptest.NewRequest("GET", "http://gw.test/fitbit/", nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		fx.flow.Home(w, r, "alice")
		var st Status
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 200 || st.Provider != "fitbit" || st.Connected {
			t.Errorf("Accept %q: %d %s", accept, w.Code, w.Body)
		}
		if w.Header().Get("Vary") != "Accept" {
			t.Errorf("Accept %q: Vary %q", accept, w.Header().Get("Vary"))
		}
	}
	w, _, cookie := fx.home(t, "alice")
	h := w.Header()
	if w.Code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Vary") != "Accept" {
		t.Fatalf("browser: %d %v", w.Code, h)
	}
	csp := h.Get("Content-Security-Policy")
	sim, _ := url.Parse(fx.sim.AuthorizeURL())
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "form-action 'self' http://"+sim.Host) || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: CSP %q, X-Frame-Options %q", csp, h.Get("X-Frame-Options"))
	}
	body := w.Body.String()
	for _, want := range []string{`<meta name="viewport"`, "<h1>Your connections</h1>", "Not connected.", ">Connect Fitbit</button>", `action="/fitbit/authorize?provider=fitbit"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, ">Disconnect Fitbit<") || strings.Contains(body, "<script") {
		t.Errorf("page of no connection offers a disconnect or runs a script:\n%s", body)
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/fitbit/" {
		t.Errorf("CSRF cookie %+v", cookie)
	}
	// The same browser keeps its cookie.
	if w2, _, _ := fx.home(t, "alice", cookie); len(w2.Result().Cookies()) != 0 {
		t.Errorf("a browser with a CSRF cookie got a new one: %v", w2.Result().Cookies())
	}
}

func TestHomeConnectAndDisconnectByForm(t *testing.T) {
	fx := newFixture(t)
	_, token, csrf := fx.home(t, "alice")

	// The connect button: a form post, sent on to the consent page.
	w := fx.post("/fitbit/authorize?provider=fitbit", "alice", token, csrf, nil)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("connect button: %d %s", w.Code, w.Body)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	var binding *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			binding = c
		}
	}
	cb := fx.callback(fx.consent(t, u), binding, "alice")
	if cb.Code != 200 || !strings.Contains(cb.Body.String(), "<h1>Connected</h1>") || !strings.Contains(cb.Body.String(), fitbitsim.DefaultUserID) ||
		!strings.Contains(cb.Body.String(), "heart rate") || !strings.Contains(cb.Body.String(), `href="/fitbit/"`) {
		t.Fatalf("result page: %d %s", cb.Code, cb.Body)
	}

	page, token, _ := fx.home(t, "alice", csrf)
	for _, want := range []string{"Connected and working.", fitbitsim.DefaultUserID, "heart rate", ">Reconnect Fitbit</button>", ">Disconnect Fitbit</button>"} {
		if !strings.Contains(page.Body.String(), want) {
			t.Errorf("connected page lacks %q:\n%s", want, page.Body)
		}
	}

	// Forged disconnects do nothing.
	_, bobToken, _ := fx.home(t, "bob", csrf)
	for name, f := range map[string]func() *httptest.ResponseRecorder{
		"no token":        func() *httptest.ResponseRecorder { return fx.post("/fitbit/disconnect", "alice", "", csrf, nil) },
		"no cookie":       func() *httptest.ResponseRecorder { return fx.post("/fitbit/disconnect", "alice", token, nil, nil) },
		"another's token": func() *httptest.ResponseRecorder { return fx.post("/fitbit/disconnect", "alice", bobToken, csrf, nil) },
		"another cookie": func() *httptest.ResponseRecorder {
			return fx.post("/fitbit/disconnect", "alice", token, &http.Cookie{Name: CSRFCookieName, Value: randomToken()}, nil)
		},
		"cross-site": func() *httptest.ResponseRecorder {
			return fx.post("/fitbit/disconnect", "alice", token, csrf, map[string]string{"Sec-Fetch-Site": "cross-site"})
		},
		"another origin": func() *httptest.ResponseRecorder {
			return fx.post("/fitbit/disconnect", "alice", token, csrf, map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.test"})
		},
		"connect, no token": func() *httptest.ResponseRecorder { return fx.post("/fitbit/authorize", "alice", "", csrf, nil) },
		"connect, cross-site": func() *httptest.ResponseRecorder {
			return fx.post("/fitbit/authorize", "alice", token, csrf, map[string]string{"Sec-Fetch-Site": "cross-site"})
		},
	} {
		if w := f(); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Refused") {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if _, err := fx.store.LoadConnection(t.Context(), tokenstore.KeyOf("fitbit", "alice")); err != nil {
		t.Fatalf("a forged post disconnected: %v", err)
	}

	w = fx.post("/fitbit/disconnect?provider=fitbit", "alice", token, csrf, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<h1>Disconnected</h1>") || !strings.Contains(w.Body.String(), "confirmed it revoked") ||
		!strings.Contains(w.Body.String(), fitbitsim.DefaultUserID) {
		t.Fatalf("disconnect button: %d %s", w.Code, w.Body)
	}
	if _, err := fx.store.LoadConnection(t.Context(), tokenstore.KeyOf("fitbit", "alice")); err == nil {
		t.Fatal("still connected after the disconnect button")
	}
}

func TestResultPagesNameScopes(t *testing.T) {
	fx := newFixture(t)
	// A partial grant: the person unticked heart rate.
	fx.sim.SetConsent(func(_ *http.Request, requested []string) fitbitsim.Consent {
		return fitbitsim.Consent{Granted: []string{"activity", "profile", "sleep"}}
	})
	u, cookie := fx.authorize(t, "alice")
	w := fx.callback(fx.consent(t, u), cookie, "alice")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "Connected, with fewer permissions") || !strings.Contains(body, "<dt>Not allowed</dt><dd><ul><li>heart rate</li></ul>") {
		t.Fatalf("partial grant: %d %s", w.Code, body)
	}
	// A denial of a reconnect: the old connection stays, and the page says so.
	fx.sim.SetConsent(func(*http.Request, []string) fitbitsim.Consent { return fitbitsim.Consent{Deny: true} })
	u, cookie = fx.authorize(t, "alice")
	w = fx.callback(fx.consent(t, u), cookie, "alice")
	body = w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "did not allow access to Fitbit") || !strings.Contains(body, "still connected") ||
		!strings.Contains(body, "<li>heart rate</li>") || !strings.Contains(body, `href="/fitbit/"`) {
		t.Fatalf("denial: %d %s", w.Code, body)
	}
}

func TestHomeSaysHealth(t *testing.T) {
	fx := newFixture(t)
	since := fx.clock
	for _, c := range []struct {
		st         Status
		want, cls  string
		disconnect bool
	}{
		{Status{}, "Not connected.", "muted", false},
		{Status{Connected: true, Health: HealthOK}, "Connected and working.", "ok", true},
		{Status{Connected: true, Health: HealthNeedsReauth}, "needs re-authorization", "warn", true},
		{Status{Connected: true, Health: HealthProviderGone, GoneSince: &since}, "turned its API off (since " + when(&since) + ")", "bad", true},
		{Status{Health: HealthUnreadable}, "can no longer read this connection", "bad", true},
	} {
		c.st.Provider = "fitbit"
		v := fx.flow.regView(fx.flow.Tokens, &c.st)
		if !strings.Contains(v.HealthText, c.want) || v.HealthClass != c.cls || v.CanDisconnect != c.disconnect {
			t.Errorf("%+v: %q (%s), disconnect %v", c.st, v.HealthText, v.HealthClass, v.CanDisconnect)
		}
		if wantLabel := map[bool]string{false: "Connect Fitbit", true: "Reconnect Fitbit"}[c.disconnect]; v.ConnectLabel != wantLabel {
			t.Errorf("%+v: button %q", c.st, v.ConnectLabel)
		}
	}
}
