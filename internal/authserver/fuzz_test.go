package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
)

// registeredRedirect reports whether target goes to one of the apps'
// registered redirect URIs: a refusal or a code may only go there, whatever
// the request said (no open redirect).
func registeredRedirect(target string) bool {
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	u.RawQuery, u.Fragment = "", ""
	base := u.String()
	for _, r := range []string{webRedirect, "https://app.example/other", phoneRedir} {
		ru, _ := url.Parse(r)
		ru.RawQuery = ""
		if base == ru.String() {
			return true
		}
	}
	return false
}

// The authorize request is the first thing a stranger's browser sends:
// whatever it holds, the answer is an Authorization for a registered
// redirect URI, or a refusal that goes only there (or nowhere).
func FuzzParseAuthorize(f *testing.F) {
	for _, q := range []url.Values{
		phoneAuthorize(),
		{"client_id": {webApp}, "response_type": {"code"}, "scope": {"activity profile"}, "redirect_uri": {webRedirect}},
		{"client_id": {webApp}, "response_type": {"token"}, "scope": {"activity"}, "expires_in": {"604800"}},
		{"client_id": {phoneApp}, "response_type": {"code"}, "scope": {"activity"}, "code_challenge": {"x"}, "code_challenge_method": {"plain"}, "prompt": {"login consent"}},
		{"client_id": {webApp, webApp}, "redirect_uri": {"https://evil.example/"}},
	} {
		f.Add(q.Encode())
	}
	f.Add("client_id=23WEB1&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback%3Ffrom%3Dfitbit%23x&state=%00%ff")
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		a, e := h.srv.ParseAuthorize(q)
		switch {
		case a != nil && e != nil:
			t.Fatal("both an authorization and a refusal")
		case a != nil:
			if !registeredRedirect(a.RedirectURI) || !registeredRedirect(a.CodeRedirect("c0de")) {
				t.Fatalf("authorization redirects to %q", a.RedirectURI)
			}
			if a.App.Type != "server" && a.Challenge == "" {
				t.Fatalf("a %s app without PKCE", a.App.Type)
			}
		case e == nil:
			t.Fatal("neither an authorization nor a refusal")
		case e.Redirect() != "" && !registeredRedirect(e.Redirect()):
			t.Fatalf("refusal redirects to %q", e.Redirect())
		case e.Code == "":
			t.Fatal("refusal without an error code")
		}
	})
}

// The token, revoke and introspect endpoints, with anything in the body,
// the content type and the Basic header: Fitbit's JSON, never a 5xx, never
// a token without a valid code or refresh token, never the secret quoted.
func FuzzEndpoints(f *testing.F) {
	seeds := []struct {
		endpoint     uint8
		basic, ctype string
		body         string
	}{
		{0, "", "application/x-www-form-urlencoded", url.Values{"client_id": {phoneApp}, "grant_type": {"authorization_code"}, "code": {"abc"}, "code_verifier": {verifier}, "redirect_uri": {phoneRedir}}.Encode()},
		{0, webApp + ":" + webSecret, "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=00&scope=activity"},
		{0, webApp + ":wrong", "application/x-www-form-urlencoded; charset=utf-8", "grant_type=client_credentials"},
		{0, ":", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nrefresh_token\r\n--x--"},
		{1, webApp + ":" + webSecret, "application/x-www-form-urlencoded", "token=abc&token_type_hint=refresh_token"},
		{1, "", "application/json", `{"token":"abc"}`},
		{2, "", "application/x-www-form-urlencoded", "token=abc"},
		{2, "Bearer x", "application/x-www-form-urlencoded", "token=%zz&token=a"},
	}
	for _, s := range seeds {
		f.Add(s.endpoint, s.basic, s.ctype, s.body)
	}
	h := newHarness(f)
	paths := []string{"/oauth2/token", "/oauth2/revoke", "/1.1/oauth2/introspect"}
	f.Fuzz(func(t *testing.T, endpoint uint8, basic, ctype, body string) {
		r := httptest.NewRequest(http.MethodPost, paths[int(endpoint)%len(paths)], strings.NewReader(body))
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("Content-Type", ctype)
		if strings.HasPrefix(basic, "Bearer ") {
			r.Header.Set("Authorization", basic)
		} else if id, secret, ok := strings.Cut(basic, ":"); ok {
			r.SetBasicAuth(id, secret)
		}
		w := httptest.NewRecorder()
		if !h.srv.ServeEndpoint(w, r) {
			t.Fatal("not served")
		}
		if w.Code >= 500 {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), webSecret) {
			t.Fatalf("the secret is quoted: %s", w.Body)
		}
		if w.Code == http.StatusOK {
			var answer struct {
				AccessToken string `json:"access_token"`
				Active      *bool  `json:"active"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil && w.Body.Len() > 0 {
				t.Fatalf("200 that is not JSON: %q", w.Body)
			}
			if answer.AccessToken != "" || (answer.Active != nil && *answer.Active) {
				t.Fatalf("a token or an active one from a fuzzed request: %s", w.Body)
			}
			return
		}
		if _, ok := apierror.Parse(w.Body.Bytes()); !ok {
			t.Fatalf("%d not in Fitbit's envelope: %q", w.Code, w.Body)
		}
	})
}

// An API call's Authorization header, whatever it holds, is refused as
// Fitbit refused a token it did not know: 401 invalid_token.
func FuzzAuthenticate(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic YTpi", "Bearer " + strings.Repeat("a", 5000), "Bearer \x00", ""} {
		f.Add(s)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/1/user/-/profile.json", nil)
		r.Header["Authorization"] = []string{header}
		p, e := h.srv.Authenticate(r)
		if p != nil {
			t.Fatalf("a principal for %q", header)
		}
		if e == nil || e.Status != http.StatusUnauthorized || e.ErrorType != apierror.InvalidToken {
			t.Fatalf("refusal of %q: %+v", header, e)
		}
	})
}
