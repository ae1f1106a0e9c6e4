package simkit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A Site routes its OAuth endpoints and the provider's own by exact path,
// without cleaning it, and everything else to the data API.
func TestSiteRoutesExactPaths(t *testing.T) {
	answer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(name)) }
	}
	var s Site
	s.Init("id", "secret", "user", nil, OAuth{
		AuthorizePath: "/authorize", TokenPath: "/token", RevokePath: "/revoke",
		Authorize: answer("authorize"), Token: answer("token"), Revoke: answer("revoke"),
	})
	s.Handle("/recover", answer("recover"))
	for path, want := range map[string]string{
		"/authorize": "authorize", "/token": "token", "/revoke": "revoke", "/recover": "recover",
		"/token/": "api", "//token": "api", "/a/../token": "api", "/1/user/-/profile.json": "api",
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "http://sim.example/", nil)
		r.URL.Path = path
		s.Route(w, r, answer("api"))
		if got := w.Body.String(); got != want {
			t.Errorf("%s routed to %q, want %q", path, got, want)
		}
	}
	if s.URL() != "" || s.TokenURL() != "/token" || s.Close() != nil {
		t.Fatalf("a Site never served: URL %q, TokenURL %q", s.URL(), s.TokenURL())
	}
}
