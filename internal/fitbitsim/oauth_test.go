package fitbitsim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestCodeFlow(t *testing.T) {
	s, clk := start(t, Config{})
	r := authorize(t, s, authorizeQuery(s, "activity heartrate profile sleep"))
	if r.Status != http.StatusFound {
		t.Fatalf("authorize: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	if !regexp.MustCompile(`^https://app\.example/callback\?code=[0-9a-f]{40}&state=st-123#_=_$`).MatchString(loc) {
		t.Fatalf("Location = %q", loc)
	}
	code := strings.TrimSuffix(strings.TrimPrefix(loc, testRedirect+"?code="), "&state=st-123#_=_")

	r = exchange(t, s, code)
	if r.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	keys := regexp.MustCompile(`^\{"access_token":"[^"]+","expires_in":28800,"refresh_token":"[0-9a-f]{64}","scope":"activity heartrate profile sleep","token_type":"Bearer","user_id":"22B7NF"\}$`)
	if !keys.Match(r.Body) {
		t.Fatalf("token body = %s", r.Body)
	}
	tr := tokens(t, r)
	if len(tr.AccessToken) > 1024 {
		t.Fatalf("access token is %d bytes", len(tr.AccessToken))
	}

	// The access token is an HS256 JWT with Fitbit's claims.
	parts := strings.Split(tr.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", tr.AccessToken)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hdr), `"alg":"HS256"`) || claims["aud"] != "23ABCD" || claims["sub"] != "22B7NF" ||
		claims["iss"] != "Fitbit" || claims["typ"] != "access_token" || claims["scopes"] == "" || claims["jti"] == "" ||
		int64(claims["exp"].(float64)) != clk.Now().Add(8*time.Hour).Unix() || int64(claims["iat"].(float64)) != clk.Now().Unix() {
		t.Fatalf("JWT header %s claims %v", hdr, claims)
	}

	r = api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	user := r.JSON(t)["user"].(map[string]any)
	if user["encodedId"] != "22B7NF" || user["displayName"] != "Sim user 22B7NF" {
		t.Fatalf("profile = %v", user)
	}
	st := s.Stats()
	if st.Authorizations != 1 || st.CodeExchanges != 1 || st.APIRequests != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCodeExchangeFailures(t *testing.T) {
	s, clk := start(t, Config{})
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	}

	// Wrong verifier: invalid_grant, message carries the code, code is burnt.
	code := getCode(t, s, "profile")
	f := form(code)
	f.Set("code_verifier", strings.Repeat("x", 50))
	it := wantError(t, post(t, s, s.TokenURL(), f, true), 400, "invalid_grant")
	if it.Message != "Authorization code invalid: "+code+" "+visit {
		t.Fatalf("message = %q", it.Message)
	}
	wantError(t, exchange(t, s, code), 400, "invalid_grant")

	// Wrong redirect_uri.
	code = getCode(t, s, "profile")
	f = form(code)
	f.Set("redirect_uri", "https://app.example/other")
	wantError(t, post(t, s, s.TokenURL(), f, true), 400, "invalid_grant")

	// Reused code.
	code = getCode(t, s, "profile")
	tokens(t, exchange(t, s, code))
	wantError(t, exchange(t, s, code), 400, "invalid_grant")

	// Expired code (10 minutes).
	code = getCode(t, s, "profile")
	clk.Advance(10*time.Minute + time.Second)
	wantError(t, exchange(t, s, code), 400, "invalid_grant")

	// Missing parameters.
	it = wantError(t, post(t, s, s.TokenURL(), url.Values{"grant_type": {"authorization_code"}}, true), 400, "invalid_request")
	if it.Message != "Missing parameters: code. "+visit {
		t.Fatalf("message = %q", it.Message)
	}
	code = getCode(t, s, "profile")
	f = form(code)
	f.Del("code_verifier")
	it = wantError(t, post(t, s, s.TokenURL(), f, true), 400, "invalid_request")
	if !strings.HasPrefix(it.Message, "Missing parameters: code_verifier.") {
		t.Fatalf("message = %q", it.Message)
	}
	tokens(t, post(t, s, s.TokenURL(), form(code), true)) // a missing parameter does not burn the code
	wantError(t, post(t, s, s.TokenURL(), url.Values{}, true), 400, "invalid_request")
	wantError(t, post(t, s, s.TokenURL(), url.Values{"grant_type": {"password"}}, true), 400, "unsupported_grant_type")

	// Bad expires_in.
	code = getCode(t, s, "profile")
	f = form(code)
	f.Set("expires_in", "100")
	wantError(t, post(t, s, s.TokenURL(), f, true), 400, "invalid_request")

	st := s.Stats()
	if st.CodeExchanges != 2 || st.CodeExchangeFailures != 8 || st.InvalidGrants != 5 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestExpiresInAndQueryParameters(t *testing.T) {
	s, _ := start(t, Config{})
	code := getCode(t, s, "profile")
	q := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
		"code_verifier": {testVerifier}, "expires_in": {"3600"}}
	req, _ := http.NewRequest("POST", s.TokenURL()+"?"+q.Encode(), nil)
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	tr := tokens(t, do(t, req))
	if tr.ExpiresIn != 3600 {
		t.Fatalf("expires_in = %d", tr.ExpiresIn)
	}
}

func TestClientAuthentication(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		s, _ := start(t, Config{})
		base := func() url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {getCode(t, s, "profile")},
				"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
		}
		// client_id alone is not enough for a server app.
		f := base()
		f.Set("client_id", s.ClientID())
		r := post(t, s, s.TokenURL(), f, false)
		wantError(t, r, 401, "invalid_client")
		if r.Header.Get("WWW-Authenticate") != `Basic realm="api.fitbit.com"` {
			t.Fatalf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
		// Wrong secret.
		req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(base().Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(s.ClientID(), "wrong")
		wantError(t, do(t, req), 401, "invalid_client")
		// Not Basic at all.
		req, _ = http.NewRequest("POST", s.TokenURL(), strings.NewReader(base().Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer x")
		wantError(t, do(t, req), 401, "invalid_client")
		// Basic works; server apps may skip PKCE.
		q := authorizeQuery(s, "profile")
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		r = authorize(t, s, q)
		loc, _ := url.Parse(r.Header.Get("Location"))
		f = url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {testRedirect}}
		tokens(t, post(t, s, s.TokenURL(), f, true))
	})
	for _, typ := range []AppType{ClientApp, PersonalApp} {
		t.Run(string(typ), func(t *testing.T) {
			s, _ := start(t, Config{AppType: typ})
			// PKCE is mandatory.
			q := authorizeQuery(s, "profile")
			q.Del("code_challenge")
			q.Del("code_challenge_method")
			r := authorize(t, s, q)
			if loc := r.Header.Get("Location"); r.Status != 302 || !strings.Contains(loc, "error=invalid_request") {
				t.Fatalf("authorize without PKCE: %d %s", r.Status, loc)
			}
			base := func() url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {getCode(t, s, "profile")},
					"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
			}
			// No client identification at all.
			wantError(t, post(t, s, s.TokenURL(), base(), false), 401, "invalid_client")
			// Wrong client_id.
			f := base()
			f.Set("client_id", "OTHER1")
			wantError(t, post(t, s, s.TokenURL(), f, false), 401, "invalid_client")
			// client_id without a secret works.
			f = base()
			f.Set("client_id", s.ClientID())
			tokens(t, post(t, s, s.TokenURL(), f, false))
			// So does Basic (with the right secret); refresh with client_id too.
			tokens(t, post(t, s, s.TokenURL(), base(), true))
			req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(base().Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(s.ClientID(), "wrong")
			wantError(t, do(t, req), 401, "invalid_client")
			tr := s.MintTokens("ABC123", "profile")
			r = post(t, s, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {s.ClientID()}}, false)
			tokens(t, r)
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	s, clk := start(t, Config{})
	first := login(t, s, "activity profile")
	second := tokens(t, refresh(t, s, first.RefreshToken))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken ||
		!hex64.MatchString(second.RefreshToken) || second.Scope != "activity profile" || second.UserID != "22B7NF" {
		t.Fatalf("rotation: %+v -> %+v", first, second)
	}
	clk.Advance(DefaultGraceWindow + time.Second)
	it := wantError(t, refresh(t, s, first.RefreshToken), 400, "invalid_grant")
	if it.Message != "Refresh token invalid: "+first.RefreshToken+". "+visit {
		t.Fatalf("message = %q", it.Message)
	}
	st := s.Stats()
	if st.Refreshes != 1 || st.RefreshReuseRejected != 1 || st.InvalidGrants != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// An unknown token is invalid_grant but not a reuse.
	wantError(t, refresh(t, s, strings.Repeat("ab", 32)), 400, "invalid_grant")
	wantError(t, post(t, s, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}}, true), 400, "invalid_request")
	st = s.Stats()
	if st.RefreshReuseRejected != 1 || st.InvalidGrants != 2 {
		t.Fatalf("stats = %+v", st)
	}
	// The chain goes on.
	tokens(t, refresh(t, s, second.RefreshToken))
	if u := s.UserStats("22B7NF"); u.Refreshes != 2 || u.RefreshReuseRejected != 1 {
		t.Fatalf("user stats = %+v", u)
	}
	// The old access token stays valid until it expires.
	if r := api(t, s, "GET", "/1/user/-/profile.json", first.AccessToken, nil); r.Status != 200 {
		t.Fatalf("old access token: %d %s", r.Status, r.Body)
	}
}

func TestGraceWindow(t *testing.T) {
	t.Run("identical", func(t *testing.T) {
		s, clk := start(t, Config{})
		tr := login(t, s, "profile")
		a := refresh(t, s, tr.RefreshToken)
		clk.Advance(DefaultGraceWindow - time.Second)
		b := refresh(t, s, tr.RefreshToken)
		if a.Status != 200 || string(a.Body) != string(b.Body) {
			t.Fatalf("grace replay differs:\n%s\n%s", a.Body, b.Body)
		}
		if st := s.Stats(); st.Refreshes != 1 || st.GraceReplays != 1 {
			t.Fatalf("stats = %+v", st)
		}
		if u := s.UserStats("22B7NF"); u.GraceReplays != 1 {
			t.Fatalf("user stats = %+v", u)
		}
	})
	t.Run("voided by access use", func(t *testing.T) {
		s, _ := start(t, Config{})
		tr := login(t, s, "profile")
		next := tokens(t, refresh(t, s, tr.RefreshToken))
		if r := api(t, s, "GET", "/1/user/-/profile.json", next.AccessToken, nil); r.Status != 200 {
			t.Fatal(r.Status)
		}
		wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
		if st := s.Stats(); st.RefreshReuseRejected != 1 || st.GraceReplays != 0 {
			t.Fatalf("stats = %+v", st)
		}
		tokens(t, refresh(t, s, next.RefreshToken)) // the new chain is intact
	})
	t.Run("voided by refresh use", func(t *testing.T) {
		s, _ := start(t, Config{})
		tr := login(t, s, "profile")
		next := tokens(t, refresh(t, s, tr.RefreshToken))
		tokens(t, refresh(t, s, next.RefreshToken))
		wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
	})
	t.Run("disabled", func(t *testing.T) {
		s, _ := start(t, Config{GraceWindow: -1})
		tr := login(t, s, "profile")
		tokens(t, refresh(t, s, tr.RefreshToken))
		wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
	})
}

func TestConcurrentRefresh(t *testing.T) {
	s, _ := start(t, Config{})
	tr := login(t, s, "activity profile")
	const n = 50
	bodies := make(chan response, n)
	startGate := make(chan struct{})
	for range n {
		go func() {
			<-startGate
			req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(s.ClientID(), s.ClientSecret())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				bodies <- response{Status: -1, Body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies <- response{Status: resp.StatusCode, Body: b}
		}()
	}
	close(startGate)
	var first string
	for i := range n {
		r := <-bodies
		if r.Status != 200 {
			t.Fatalf("response %d: %d %s", i, r.Status, r.Body)
		}
		if i == 0 {
			first = string(r.Body)
		} else if string(r.Body) != first {
			t.Fatalf("responses differ:\n%s\n%s", first, r.Body)
		}
	}
	if st := s.Stats(); st.Refreshes != 1 || st.GraceReplays != n-1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestNewCodeExchangeReplacesChain(t *testing.T) {
	s, _ := start(t, Config{})
	a := login(t, s, "profile")
	b := login(t, s, "profile")
	wantError(t, refresh(t, s, a.RefreshToken), 400, "invalid_grant")
	tokens(t, refresh(t, s, b.RefreshToken))
	if st := s.Stats(); st.RefreshReuseRejected != 0 || st.InvalidGrants != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestAuthorize(t *testing.T) {
	s, _ := start(t, Config{})

	// Untrusted redirect: a 400 page, never a redirect.
	for name, mod := range map[string]func(url.Values){
		"unknown client":   func(q url.Values) { q.Set("client_id", "NOPE00") },
		"missing client":   func(q url.Values) { q.Del("client_id") },
		"wrong redirect":   func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") },
		"redirect prefix":  func(q url.Values) { q.Set("redirect_uri", testRedirect+"/x") },
		"repeated param":   func(q url.Values) { q.Add("redirect_uri", testRedirect) },
		"missing redirect": nil,
	} {
		q := authorizeQuery(s, "profile")
		if mod != nil {
			mod(q)
		}
		if name == "missing redirect" {
			// Only omittable when exactly one URI is registered: use a server with two.
			s2, _ := start(t, Config{RedirectURIs: []string{testRedirect, "https://app.example/two"}})
			q = authorizeQuery(s2, "profile")
			q.Del("redirect_uri")
			r := authorize(t, s2, q)
			if r.Status != 400 || r.Header.Get("Location") != "" {
				t.Fatalf("%s: %d %q", name, r.Status, r.Header.Get("Location"))
			}
			continue
		}
		r := authorize(t, s, q)
		if r.Status != 400 || r.Header.Get("Location") != "" {
			t.Fatalf("%s: %d %q", name, r.Status, r.Header.Get("Location"))
		}
	}

	// Trusted redirect: errors go back to the app.
	for name, c := range map[string]struct {
		mod  func(url.Values)
		want string
	}{
		"bad scope":      {func(q url.Values) { q.Set("scope", "profile email") }, "error=invalid_scope"},
		"empty scope":    {func(q url.Values) { q.Set("scope", " ") }, "error=invalid_request"},
		"token response": {func(q url.Values) { q.Set("response_type", "token") }, "error=unsupported_response_type"},
		"plain pkce":     {func(q url.Values) { q.Set("code_challenge_method", "plain") }, "error=invalid_request"},
		"bad challenge":  {func(q url.Values) { q.Set("code_challenge", "short") }, "error=invalid_request"},
		"bad prompt":     {func(q url.Values) { q.Set("prompt", "always") }, "error=invalid_request"},
	} {
		q := authorizeQuery(s, "profile")
		c.mod(q)
		r := authorize(t, s, q)
		loc := r.Header.Get("Location")
		if r.Status != 302 || !strings.HasPrefix(loc, testRedirect+"?"+c.want) || !strings.HasSuffix(loc, "&state=st-123#_=_") {
			t.Fatalf("%s: %d %q", name, r.Status, loc)
		}
	}

	// Denial.
	s.SetConsent(func(*http.Request, []string) Consent { return Consent{Deny: true} })
	r := authorize(t, s, authorizeQuery(s, "profile"))
	want := testRedirect + "?error=access_denied&error_description=The+user+denied+the+request.&state=st-123#_=_"
	if r.Status != 302 || r.Header.Get("Location") != want {
		t.Fatalf("deny: %d %q", r.Status, r.Header.Get("Location"))
	}
	if st := s.Stats(); st.Denials != 1 || st.Authorizations != 0 {
		t.Fatalf("stats = %+v", st)
	}

	// Partial grant by another user.
	s.SetConsent(func(_ *http.Request, req []string) Consent {
		return Consent{UserID: "ABC123", Granted: []string{"profile", "weight"}}
	})
	tr := login(t, s, "activity profile")
	if tr.Scope != "profile" || tr.UserID != "ABC123" {
		t.Fatalf("partial grant: %+v", tr)
	}
	s.SetConsent(nil)
	if tr := login(t, s, "sleep"); tr.UserID != "22B7NF" || tr.Scope != "sleep" {
		t.Fatalf("default consent: %+v", tr)
	}

	// Without registered URIs any absolute http(s) URL is accepted, and its query is kept.
	open, _ := start(t, Config{RedirectURIs: []string{}})
	q := authorizeQuery(open, "profile")
	q.Set("redirect_uri", "http://localhost:9999/cb?x=1")
	q.Del("state")
	r = authorize(t, open, q)
	if loc := r.Header.Get("Location"); r.Status != 302 || !regexp.MustCompile(`^http://localhost:9999/cb\?x=1&code=[0-9a-f]{40}#_=_$`).MatchString(loc) {
		t.Fatalf("open redirect: %d %q", r.Status, loc)
	}
	q.Set("redirect_uri", "javascript:alert(1)")
	if r = authorize(t, open, q); r.Status != 400 {
		t.Fatalf("javascript redirect: %d", r.Status)
	}
}

func TestRevoke(t *testing.T) {
	s, _ := start(t, Config{})
	for _, which := range []string{"access", "refresh"} {
		tr := login(t, s, "profile")
		tok := tr.AccessToken
		if which == "refresh" {
			tok = tr.RefreshToken
		}
		r := post(t, s, s.RevokeURL(), url.Values{"token": {tok}}, true)
		if r.Status != 200 || string(r.Body) != "{}" {
			t.Fatalf("revoke %s: %d %s", which, r.Status, r.Body)
		}
		it := wantError(t, api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil), 401, "invalid_token")
		if it.Message != "Access token invalid: "+tr.AccessToken+". "+visit {
			t.Fatalf("message = %q", it.Message)
		}
		wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
	}
	wantError(t, post(t, s, s.RevokeURL(), url.Values{"token": {strings.Repeat("0", 64)}}, true), 404, "not_found")
	wantError(t, post(t, s, s.RevokeURL(), url.Values{}, true), 400, "invalid_request")
	wantError(t, post(t, s, s.RevokeURL(), url.Values{"token": {"x"}}, false), 401, "invalid_client")
	if st := s.Stats(); st.Revocations != 2 {
		t.Fatalf("stats = %+v", st)
	}

	// RevokeUser, and a fresh login afterwards works.
	tr := login(t, s, "profile")
	s.RevokeUser("22B7NF")
	wantError(t, api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil), 401, "invalid_token")
	wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
	tr = login(t, s, "profile")
	tokens(t, refresh(t, s, tr.RefreshToken))
}

func TestIntrospect(t *testing.T) {
	s, clk := start(t, Config{})
	tr := login(t, s, "activity heartrate")
	introspect := func(bearer, tok string) response {
		req, _ := http.NewRequest("POST", s.IntrospectURL(), strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return do(t, req)
	}
	r := introspect(tr.AccessToken, tr.AccessToken)
	if r.Status != 200 {
		t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["active"] != true || m["scope"] != "{ACTIVITY=READ_WRITE, HEARTRATE=READ_WRITE}" || m["client_id"] != "23ABCD" ||
		m["user_id"] != "22B7NF" || m["token_type"] != "access_token" ||
		int64(m["exp"].(float64)) != clk.Now().Add(8*time.Hour).Truncate(time.Second).UnixMilli() {
		t.Fatalf("introspect = %s", r.Body)
	}
	for _, tok := range []string{tr.RefreshToken, "garbage"} {
		if r := introspect(tr.AccessToken, tok); r.Status != 200 || string(r.Body) != `{"active":false}` {
			t.Fatalf("introspect %q: %d %s", tok, r.Status, r.Body)
		}
	}
	wantError(t, introspect("", tr.AccessToken), 401, "invalid_token")
	other := s.MintTokens("ABC123", "profile")
	s.ExpireAccessTokens("ABC123")
	if r := introspect(tr.AccessToken, other.AccessToken); string(r.Body) != `{"active":false}` {
		t.Fatalf("expired introspect: %s", r.Body)
	}
	wantError(t, introspect(other.AccessToken, tr.AccessToken), 401, "expired_token")
	if st := s.Stats(); st.Introspections != 4 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestHostileInput(t *testing.T) {
	s, _ := start(t, Config{})
	big := strings.NewReader("grant_type=refresh_token&refresh_token=" + strings.Repeat("a", 100<<10))
	req, _ := http.NewRequest("POST", s.TokenURL(), big)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	wantError(t, do(t, req), 400, "invalid_request")

	req, _ = http.NewRequest("GET", s.TokenURL(), nil)
	if r := do(t, req); r.Status != 405 {
		t.Fatalf("GET token: %d", r.Status)
	}
	for _, tok := range []string{"a.b.c", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat("x.", 3000), "\xff\xfe"} {
		wantError(t, api(t, s, "GET", "/1/user/-/profile.json", tok, nil), 401, "invalid_token")
	}
	// A token with alg none or re-signed with another key is rejected.
	tr := login(t, s, "profile")
	parts := strings.Split(tr.AccessToken, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	wantError(t, api(t, s, "GET", "/1/user/-/profile.json", none, nil), 401, "invalid_token")
	forged := signJWT([]byte("another key"), jwtClaims{Aud: "23ABCD", Sub: "22B7NF", Typ: "access_token", Jti: "x", Exp: 1 << 40})
	wantError(t, api(t, s, "GET", "/1/user/-/profile.json", forged, nil), 401, "invalid_token")
}

// A person answers the consent page: a partial grant, then a denial.
func TestConsentPage(t *testing.T) {
	s, _ := start(t, Config{})
	s.SetConsent(simkit.AskPerson("PAGE01"))
	page := authorize(t, s, authorizeQuery(s, "activity heartrate sleep"))
	form, scopes := simtest.ConsentForm(t, page)
	if strings.Join(scopes, " ") != "activity heartrate sleep" || form.Get("state") != "st-123" ||
		!strings.Contains(string(page.Body), "PAGE01") || !strings.Contains(string(page.Body), ">Deny</button>") {
		t.Fatalf("consent page: scopes %v, form %v\n%s", scopes, form, page.Body)
	}
	if s.Stats().Authorizations != 0 {
		t.Fatal("showing the page issued a code")
	}

	// Allow, with heart rate unticked.
	code := simtest.Code(t, simtest.Answer(t, s, form, "allow", "activity", "sleep"))
	tok := tokens(t, exchange(t, s, code))
	if tok.Scope != "activity sleep" || tok.UserID != "PAGE01" {
		t.Fatalf("partial grant: scope %q, user %q", tok.Scope, tok.UserID)
	}

	// Deny.
	r := simtest.Answer(t, s, form, "deny", "activity")
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != 302 || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st-123" {
		t.Fatalf("deny: %d %s", r.Status, loc)
	}
	// Allow with nothing ticked is a denial too.
	r = simtest.Answer(t, s, form, "allow")
	if loc, _ := url.Parse(r.Header.Get("Location")); loc.Query().Get("error") != "access_denied" {
		t.Fatalf("nothing ticked: %d %s", r.Status, loc)
	}
	// A tampered form is checked like a GET.
	form.Set("client_id", "someone-else")
	if r := simtest.Answer(t, s, form, "allow", "activity"); r.Status != 400 {
		t.Fatalf("tampered form: %d %s", r.Status, r.Body)
	}
}
