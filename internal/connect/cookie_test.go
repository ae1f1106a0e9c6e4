package connect

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestBindingCookieFollowsRedirectURI: the binding cookie's name and
// attributes follow the registration's redirect URI, not the request that
// started the flow. Behind a TLS-terminating proxy the request arrives over
// plain http while the browser speaks https: the cookie must still be a
// Secure __Host- cookie.
func TestBindingCookieFollowsRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		name, redirect string
		overTLS        bool
		want           http.Cookie
	}{
		{"https behind a TLS-terminating proxy", "https://gw.test/fitbit/callback", false,
			http.Cookie{Name: "__Host-fitbit_connect", Path: "/", Secure: true}},
		{"https over TLS", "https://gw.test/fitbit/callback", true,
			http.Cookie{Name: "__Host-fitbit_connect", Path: "/", Secure: true}},
		{"http localhost", "http://localhost:9080/fitbit/callback", false,
			http.Cookie{Name: "fitbit_connect", Path: "/fitbit/", Secure: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixtureAt(t, tc.redirect)
			r := httptest.NewRequest("GET", "http://gw.test/fitbit/authorize", nil)
			if tc.overTLS {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			w := httptest.NewRecorder()
			fx.flow.Authorize(w, r, "alice")
			if w.Code != http.StatusFound {
				t.Fatalf("authorize: %d %s", w.Code, w.Body)
			}
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies: %v", cookies)
			}
			c := cookies[0]
			if c.Name != tc.want.Name || c.Path != tc.want.Path || c.Secure != tc.want.Secure || c.Domain != "" ||
				!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 || len(c.Value) != 43 {
				t.Fatalf("cookie %q, want %s Path=%s Secure=%v HttpOnly SameSite=Lax, no Domain", c.Raw, tc.want.Name, tc.want.Path, tc.want.Secure)
			}
			if strings.Contains(strings.ToLower(c.Raw), "domain=") {
				t.Fatalf("cookie %q has a Domain", c.Raw)
			}
			// The browser comes back with that cookie and completes the flow.
			u, _ := url.Parse(w.Header().Get("Location"))
			if cb := fx.callback(fx.consent(t, u), c, ""); cb.Code != http.StatusOK {
				t.Fatalf("callback: %d %s", cb.Code, cb.Body)
			}
		})
	}
}

// TestPlantedPlainCookieIsRefusedUnderHTTPS: an attacker who starts a flow
// under their own identity and plants its binding in the victim's browser
// as a plain fitbit_connect cookie (which a sibling subdomain or a plain
// http response can set, unlike a __Host- one) gets nothing: under an https
// redirect URI the callback honours only the __Host- cookie, and authorize
// does not adopt the planted value as the victim's binding.
func TestPlantedPlainCookieIsRefusedUnderHTTPS(t *testing.T) {
	fx := newFixtureAt(t, "https://gw.test/fitbit/callback")
	u, attackers := fx.authorize(t, "mallory")
	planted := &http.Cookie{Name: CookieName, Value: attackers.Value}
	cb := fx.callback(fx.consent(t, u), planted, "")
	if cb.Code != http.StatusForbidden || !strings.Contains(cb.Body.String(), "another browser") {
		t.Fatalf("callback with a planted plain cookie: %d %s", cb.Code, cb.Body)
	}
	if st := fx.sim.Stats(); st.CodeExchanges != 0 {
		t.Fatalf("the planted cookie's callback reached the token endpoint: %+v", st)
	}

	r := httptest.NewRequest("GET", "http://gw.test/fitbit/authorize", nil)
	r.AddCookie(planted)
	w := httptest.NewRecorder()
	fx.flow.Authorize(w, r, "victim")
	if c := w.Result().Cookies()[0]; c.Name != SecureCookieName || c.Value == planted.Value {
		t.Fatalf("authorize adopted the planted binding: %q", c.Raw)
	}
}

// TestPagesRefuseFraming: every page of the flow forbids other sites to
// frame it (clickjacking a consent, reading a page in a frame).
func TestPagesRefuseFraming(t *testing.T) {
	fx := newFixture(t)
	u, cookie := fx.authorize(t, "alice")
	q := fx.consent(t, u)
	bad := httptest.NewRecorder()
	fx.flow.Authorize(bad, httptest.NewRequest("GET", "http://gw.test/fitbit/authorize?return_to=https://evil.example/", nil), "alice")
	for name, w := range map[string]*httptest.ResponseRecorder{
		"return_to refused": bad,
		"wrong browser":     fx.callback(q, nil, ""),
		"invalid callback":  fx.callback("", cookie, ""),
	} {
		h := w.Header()
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("%s page (%d): CSP %q, X-Frame-Options %q", name, w.Code, h.Get("Content-Security-Policy"), h.Get("X-Frame-Options"))
		}
	}
}
