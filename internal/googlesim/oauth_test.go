package googlesim

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
)

func TestCodeFlowPKCEOffline(t *testing.T) {
	s, _ := start(t, Config{})
	r := authorize(t, s, authorizeQuery(s, scopeSleep+" "+scopeActivity))
	if r.Status != http.StatusFound {
		t.Fatalf("authorize: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	re := regexp.MustCompile(`^https://app\.example/callback\?state=st-123&code=4%2F0A[A-Za-z0-9_-]+&scope=([^&#]+)&authuser=0&prompt=consent$`)
	m := re.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("Location = %q", loc)
	}
	if sc, _ := url.QueryUnescape(m[1]); sc != scopeActivity+" "+scopeSleep {
		t.Fatalf("scope in redirect = %q", sc)
	}
	u, _ := url.Parse(loc)
	code := u.Query().Get("code")

	r = exchange(t, s, code)
	body := regexp.MustCompile(`^\{"access_token":"ya29\.a0[A-Za-z0-9_-]+","expires_in":3599,"refresh_token":"1//0[A-Za-z0-9_-]+","scope":"` +
		regexp.QuoteMeta(scopeActivity+" "+scopeSleep) + `","token_type":"Bearer"\}$`)
	if r.Status != 200 || !body.Match(r.Body) {
		t.Fatalf("token answer %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") == "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("headers %v", r.Header)
	}
	tr := tokens(t, r)
	if r := api(t, s, "GET", "/v4/users/me/identity", tr.AccessToken, nil); r.Status != 200 {
		t.Fatalf("identity: %d %s", r.Status, r.Body)
	}
	// The code is single-use.
	wantOAuthError(t, exchange(t, s, code), 400, "invalid_grant", "Bad Request")

	st := s.Stats()
	if st.Authorizations != 1 || st.OfflineAuthorizations != 1 || st.CodeExchanges != 1 || st.CodeExchangeFailures != 1 ||
		st.InvalidGrants != 1 || st.APIRequests != 1 || st.ExchangesWithoutRefreshToken != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if us := s.UserStats(DefaultUserID); us.Authorizations != 1 || us.CodeExchanges != 1 || us.APIRequests != 1 {
		t.Fatalf("user stats = %+v", us)
	}
	ars := s.AuthRequests()
	if len(ars) != 1 || ars[0].AccessType != "offline" || ars[0].Prompt != "consent" || ars[0].CodeChallengeMethod != "S256" ||
		!ars[0].RefreshTokenEligible || ars[0].UserID != DefaultUserID || ars[0].Error != "" || len(ars[0].Granted) != 2 {
		t.Fatalf("auth requests = %+v", ars)
	}
	issued := strings.Join(s.IssuedSecrets(), "\n")
	for _, sec := range []string{code, tr.AccessToken, tr.RefreshToken} {
		if !strings.Contains(issued, sec) {
			t.Fatalf("IssuedSecrets misses %q", sec)
		}
	}
}

func TestRefreshTokenOnlyWithOfflineAccess(t *testing.T) {
	s, _ := start(t, Config{})
	// No access_type: no refresh token.
	q := authorizeQuery(s, scopeActivity)
	q.Del("access_type")
	r := exchange(t, s, codeFrom(t, s, q))
	if r.Status != 200 || bytes.Contains(r.Body, []byte("refresh_token")) {
		t.Fatalf("online exchange: %d %s", r.Status, r.Body)
	}
	if st := s.Stats(); st.ExchangesWithoutRefreshToken != 1 || st.OfflineAuthorizations != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if a := s.AuthRequests()[0]; a.RefreshTokenEligible || a.AccessType != "" {
		t.Fatalf("auth request = %+v", a)
	}

	// A first offline consent without prompt=consent gets one...
	q = authorizeQuery(s, scopeActivity)
	q.Del("prompt")
	first := tokens(t, exchange(t, s, codeFrom(t, s, q)))
	if first.RefreshToken == "" {
		t.Fatal("first offline consent: no refresh token")
	}
	// ...a repeated one does not, as at Google...
	if tr := tokens(t, exchange(t, s, codeFrom(t, s, q))); tr.RefreshToken != "" {
		t.Fatal("repeated offline consent without prompt=consent returned a refresh token")
	}
	// ...and prompt=consent always does. Both refresh tokens live.
	second := login(t, s, scopeActivity)
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("prompt=consent: %+v", second)
	}
	if n := s.LiveRefreshTokens(DefaultUserID); n != 2 {
		t.Fatalf("live refresh tokens = %d", n)
	}
	tokens(t, refresh(t, s, first.RefreshToken))
	tokens(t, refresh(t, s, second.RefreshToken))
}

func TestRefreshKeepsRefreshToken(t *testing.T) {
	s, clk := start(t, Config{})
	tr := login(t, s, scopeActivity)
	clk.Advance(2 * time.Hour)
	for range 2 {
		r := refresh(t, s, tr.RefreshToken)
		if r.Status != 200 || bytes.Contains(r.Body, []byte("refresh_token")) {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		next := tokens(t, r)
		if next.AccessToken == tr.AccessToken || next.ExpiresIn != 3599 || next.Scope != scopeActivity {
			t.Fatalf("refresh answer %+v", next)
		}
		if r := api(t, s, "GET", "/v4/users/me/identity", next.AccessToken, nil); r.Status != 200 {
			t.Fatalf("new access token: %d", r.Status)
		}
	}
	if st := s.Stats(); st.Refreshes != 2 || st.RefreshTokensIssued != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if us := s.UserStats(DefaultUserID); us.Refreshes != 2 || us.RefreshTokensIssued != 0 {
		t.Fatalf("user stats = %+v", us)
	}
}

func TestRefreshRotation(t *testing.T) {
	s, _ := start(t, Config{RotateRefreshTokens: true})
	tr := login(t, s, scopeActivity)
	next := tokens(t, refresh(t, s, tr.RefreshToken))
	if next.RefreshToken == "" || next.RefreshToken == tr.RefreshToken {
		t.Fatalf("rotation: %+v", next)
	}
	r := refresh(t, s, tr.RefreshToken)
	wantOAuthError(t, r, 400, "invalid_grant", descRevoked)
	tokens(t, refresh(t, s, next.RefreshToken))
	if st := s.Stats(); st.Refreshes != 2 || st.RefreshTokensIssued != 2 || st.InvalidGrants != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRefreshTokenLifetimeAndIdle(t *testing.T) {
	s, clk := start(t, Config{RefreshTokenLifetime: 7 * 24 * time.Hour})
	tr := login(t, s, scopeActivity)
	if tr.RefreshTokenExpiresIn != 7*24*3600-1 {
		t.Fatalf("refresh_token_expires_in = %d", tr.RefreshTokenExpiresIn)
	}
	clk.Advance(7*24*time.Hour - time.Second)
	tokens(t, refresh(t, s, tr.RefreshToken))
	clk.Advance(time.Second)
	wantOAuthError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant", descRevoked)

	s2, clk2 := start(t, Config{})
	tr = login(t, s2, scopeActivity)
	clk2.Advance(RefreshTokenIdleLimit)
	wantOAuthError(t, refresh(t, s2, tr.RefreshToken), 400, "invalid_grant", descRevoked)
}

func TestRevoke(t *testing.T) {
	s, _ := start(t, Config{})
	tr := login(t, s, scopeActivity)
	r := post(t, s.RevokeURL(), url.Values{"token": {tr.AccessToken}})
	if r.Status != 200 || string(r.Body) != "{}" {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	r = refresh(t, s, tr.RefreshToken)
	if r.Status != 400 || string(r.Body) != `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}` {
		t.Fatalf("refresh after revoke: %d %s", r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte(tr.RefreshToken)) {
		t.Fatal("error contains the token")
	}
	wantStatus(t, api(t, s, "GET", "/v4/users/me/identity", tr.AccessToken, nil), 401, "UNAUTHENTICATED")
	wantOAuthError(t, post(t, s.RevokeURL(), url.Values{"token": {tr.RefreshToken}}), 400, "invalid_token", "Token expired or revoked")
	wantOAuthError(t, post(t, s.RevokeURL(), url.Values{"token": {"nonsense"}}), 400, "invalid_token", "Token expired or revoked")
	if s.Grant(DefaultUserID) != nil || s.LiveRefreshTokens(DefaultUserID) != 0 {
		t.Fatal("grant survived revocation")
	}

	// Revoking by refresh token, and RevokeUser.
	tr = login(t, s, scopeActivity)
	r = post(t, s.RevokeURL(), url.Values{"token": {tr.RefreshToken}})
	if r.Status != 200 {
		t.Fatalf("revoke refresh token: %d %s", r.Status, r.Body)
	}
	wantStatus(t, api(t, s, "GET", "/v4/users/me/identity", tr.AccessToken, nil), 401, "UNAUTHENTICATED")
	tr = login(t, s, scopeActivity)
	s.RevokeUser(DefaultUserID)
	wantOAuthError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant", descRevoked)
	if st := s.Stats(); st.Revocations != 2 || st.InvalidGrants != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCodeExchangeFailures(t *testing.T) {
	s, clk := start(t, Config{})
	form := func(code string) url.Values {
		return withClient(s, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
	}
	var bodies [][]byte
	check := func(r response, status int, code, desc string) {
		t.Helper()
		wantOAuthError(t, r, status, code, desc)
		bodies = append(bodies, r.Body)
	}

	// Wrong verifier burns the code.
	code := getCode(t, s, scopeActivity)
	f := form(code)
	f.Set("code_verifier", strings.Repeat("x", 50))
	check(post(t, s.TokenURL(), f), 400, "invalid_grant", "Invalid code verifier.")
	check(exchange(t, s, code), 400, "invalid_grant", "Bad Request")
	// Missing verifier.
	code = getCode(t, s, scopeActivity)
	f = form(code)
	f.Del("code_verifier")
	check(post(t, s.TokenURL(), f), 400, "invalid_grant", "Missing code verifier.")
	// Wrong and missing redirect_uri.
	code = getCode(t, s, scopeActivity)
	f = form(code)
	f.Set("redirect_uri", "https://app.example/other")
	check(post(t, s.TokenURL(), f), 400, "redirect_uri_mismatch", "Bad Request")
	f.Del("redirect_uri")
	check(post(t, s.TokenURL(), f), 400, "invalid_request", "")
	// Expired (10 minutes).
	code = getCode(t, s, scopeActivity)
	clk.Advance(10*time.Minute + time.Second)
	check(exchange(t, s, code), 400, "invalid_grant", "Bad Request")
	check(exchange(t, s, "garbage"), 400, "invalid_grant", "Malformed auth code.")
	// Client authentication.
	code = getCode(t, s, scopeActivity)
	f = form(code)
	f.Set("client_secret", "wrong")
	check(post(t, s.TokenURL(), f), 401, "invalid_client", "Unauthorized")
	f.Del("client_secret")
	check(post(t, s.TokenURL(), f), 401, "invalid_client", "Unauthorized")
	f.Set("client_id", "other.apps.googleusercontent.com")
	check(post(t, s.TokenURL(), f), 401, "invalid_client", "The OAuth client was not found.")
	f.Del("client_id")
	check(post(t, s.TokenURL(), f), 400, "invalid_request", "Could not determine client ID from request.")
	// HTTP Basic works (the code is still unspent: client errors come first).
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	tokens(t, do(t, req))
	// Grant types.
	check(post(t, s.TokenURL(), withClient(s, url.Values{"grant_type": {"password"}})), 400, "unsupported_grant_type", "Invalid grant_type: password")
	check(post(t, s.TokenURL(), withClient(s, url.Values{"grant_type": {"refresh_token"}})), 400, "invalid_request", "")
	req, _ = http.NewRequest("GET", s.TokenURL(), nil)
	if r := do(t, req); r.Status != 405 {
		t.Fatalf("GET /token: %d", r.Status)
	}

	for _, sec := range s.IssuedSecrets() {
		for _, b := range bodies {
			if bytes.Contains(b, []byte(sec)) {
				t.Fatalf("error body %s contains a secret", b)
			}
		}
	}
	if st := s.Stats(); st.CodeExchangeFailures != 11 || st.CodeExchanges != 1 || st.InvalidClients != 3 || st.InvalidGrants != 5 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestJSONTokenRequest(t *testing.T) {
	s, _ := start(t, Config{})
	code := getCode(t, s, scopeActivity)
	body := `{"grant_type":"authorization_code","code":"` + code + `","redirect_uri":"` + testRedirect +
		`","code_verifier":"` + testVerifier + `","client_id":"` + s.ClientID() + `","client_secret":"` + s.ClientSecret() + `"}`
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	tokens(t, do(t, req))
}

func TestAuthorizeErrors(t *testing.T) {
	s, _ := start(t, Config{})
	page := func(mut func(url.Values), wantCode string) {
		t.Helper()
		q := authorizeQuery(s, scopeActivity)
		mut(q)
		r := authorize(t, s, q)
		if r.Status != 400 || r.Header.Get("Location") != "" || !strings.Contains(string(r.Body), "Error 400: "+wantCode) {
			t.Fatalf("want 400 page %s, got %d %q %s", wantCode, r.Status, r.Header.Get("Location"), r.Body)
		}
	}
	page(func(q url.Values) { q.Del("client_id") }, "invalid_request")
	page(func(q url.Values) { q.Set("client_id", "nope") }, "invalid_client")
	page(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, "redirect_uri_mismatch")
	page(func(q url.Values) { q.Del("redirect_uri") }, "invalid_request")
	page(func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type")
	page(func(q url.Values) { q.Set("scope", "https://www.googleapis.com/auth/fitness.activity.read") }, "invalid_scope")
	page(func(q url.Values) { q.Del("scope") }, "invalid_request")
	page(func(q url.Values) { q.Set("code_challenge_method", "S512") }, "invalid_request")
	page(func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request")
	page(func(q url.Values) { q.Set("access_type", "forever") }, "invalid_request")
	page(func(q url.Values) { q.Set("prompt", "none consent") }, "invalid_request")
	page(func(q url.Values) { q.Add("state", "two") }, "invalid_request")

	// Denial redirects with state.
	s.SetConsent(func(*http.Request, []string) Consent { return Consent{Deny: true} })
	r := authorize(t, s, authorizeQuery(s, scopeActivity))
	if r.Status != 302 || r.Header.Get("Location") != testRedirect+"?state=st-123&error=access_denied" {
		t.Fatalf("denial: %d %q", r.Status, r.Header.Get("Location"))
	}
	// Partial consent narrows the scopes.
	s.SetConsent(func(_ *http.Request, req []string) Consent {
		return Consent{UserID: "555", Granted: []string{scopeSleep, "https://example/other"}}
	})
	tr := login(t, s, scopeSleep+" "+scopeActivity+" openid")
	if tr.Scope != scopeSleep {
		t.Fatalf("partial scope = %q", tr.Scope)
	}
	// include_granted_scopes merges the earlier grant.
	s.SetConsent(nil)
	q := authorizeQuery(s, scopeProfile)
	q.Set("include_granted_scopes", "true")
	s.SetConsent(func(*http.Request, []string) Consent { return Consent{UserID: "555"} })
	tr = tokens(t, exchange(t, s, codeFrom(t, s, q)))
	if tr.Scope != scopeProfile+" "+scopeSleep {
		t.Fatalf("incremental scope = %q", tr.Scope)
	}
	// prompt=none: fine with a covering grant, consent_required otherwise.
	q = authorizeQuery(s, scopeSleep)
	q.Set("prompt", "none")
	r = authorize(t, s, q)
	if loc := r.Header.Get("Location"); r.Status != 302 || !strings.Contains(loc, "code=") || !strings.HasSuffix(loc, "&prompt=none") {
		t.Fatalf("prompt=none with grant: %d %q", r.Status, loc)
	}
	q.Set("scope", scopeSettings)
	r = authorize(t, s, q)
	if r.Header.Get("Location") != testRedirect+"?state=st-123&error=consent_required" {
		t.Fatalf("prompt=none without grant: %q", r.Header.Get("Location"))
	}
	if st := s.Stats(); st.Denials != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestAnyRedirectWhenNoneRegistered(t *testing.T) {
	s, _ := start(t, Config{RedirectURIs: []string{}})
	q := authorizeQuery(s, scopeActivity)
	q.Set("redirect_uri", "http://127.0.0.1:9999/cb?x=1")
	r := authorize(t, s, q)
	if r.Status != 302 || !strings.HasPrefix(r.Header.Get("Location"), "http://127.0.0.1:9999/cb?x=1&state=st-123&code=") {
		t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
	}
	q.Set("redirect_uri", "javascript:alert(1)")
	if r := authorize(t, s, q); r.Status != 400 {
		t.Fatalf("javascript: redirect %d", r.Status)
	}
}

func TestPlainPKCEAndNoPKCE(t *testing.T) {
	s, _ := start(t, Config{})
	q := authorizeQuery(s, scopeActivity)
	q.Set("code_challenge", testVerifier)
	q.Del("code_challenge_method")
	tokens(t, exchange(t, s, codeFrom(t, s, q)))
	q.Del("code_challenge")
	code := codeFrom(t, s, q)
	f := withClient(s, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}})
	tokens(t, post(t, s.TokenURL(), f))
}

func TestMintTokens(t *testing.T) {
	s, _ := start(t, Config{})
	tr := s.MintTokens("42", "sleep.readonly", "bogus")
	if tr.Scope != scopeSleep || tr.RefreshToken == "" || tr.ExpiresIn != 3599 {
		t.Fatalf("mint = %+v", tr)
	}
	all := s.MintTokens("")
	if len(strings.Fields(all.Scope)) != 2*len(Areas) {
		t.Fatalf("all scopes = %q", all.Scope)
	}
	s.SetAccessTokenLifetime(10 * time.Minute)
	if tr := tokens(t, refresh(t, s, tr.RefreshToken)); tr.ExpiresIn != 599 {
		t.Fatalf("expires_in = %d", tr.ExpiresIn)
	}
	if st := s.Stats(); st.Authorizations != 0 || st.CodeExchanges != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestPanicIsInternal(t *testing.T) {
	s, _ := start(t, Config{})
	s.SetConsent(func(*http.Request, []string) Consent { panic("boom") })
	r := authorize(t, s, authorizeQuery(s, scopeActivity))
	wantStatus(t, r, 500, "INTERNAL")
}

func TestHostileOAuthInput(t *testing.T) {
	s, _ := start(t, Config{})
	big := strings.Repeat("a", maxOAuthBody+10)
	r := post(t, s.TokenURL(), url.Values{"grant_type": {big}})
	wantOAuthError(t, r, 400, "invalid_request", "")
	r = post(t, s.RevokeURL(), url.Values{"token": {big}})
	wantOAuthError(t, r, 400, "invalid_request", "")
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(`{"grant_type":1}`))
	req.Header.Set("Content-Type", "application/json")
	wantOAuthError(t, do(t, req), 400, "invalid_request", "")
	req, _ = http.NewRequest("POST", s.TokenURL(), strings.NewReader("grant_type=refresh_token"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic !!!")
	wantOAuthError(t, do(t, req), 400, "invalid_request", "")
}

// A person answers the consent screen: a partial grant, then a denial;
// prompt=none shows no screen.
func TestConsentPage(t *testing.T) {
	s, _ := start(t, Config{})
	s.SetConsent(simkit.AskPerson("100000000000000000042"))
	sleep, activity := ScopeURL(AreaSleep, false), ScopeURL(AreaActivity, false)
	q := authorizeQuery(s, activity+" "+sleep)
	page := authorize(t, s, q)
	form, scopes := simtest.ConsentForm(t, page)
	if !slices.Equal(scopes, []string{activity, sleep}) || form.Get("state") != "st-123" ||
		!strings.Contains(string(page.Body), "activity_and_fitness.readonly") {
		t.Fatalf("consent page: scopes %v, form %v\n%s", scopes, form, page.Body)
	}

	code := simtest.Code(t, simtest.Answer(t, s, form, "allow", sleep))
	tok := tokens(t, exchange(t, s, code))
	if tok.Scope != sleep {
		t.Fatalf("partial grant: scope %q", tok.Scope)
	}
	if a := s.AuthRequests(); a[len(a)-1].UserID != "100000000000000000042" {
		t.Fatalf("answered by %q", a[len(a)-1].UserID)
	}

	r := simtest.Answer(t, s, form, "deny", sleep)
	if loc, _ := url.Parse(r.Header.Get("Location")); r.Status != 302 || loc.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: %d %s", r.Status, loc)
	}

	// prompt=none: no screen, the existing grant answers.
	q.Set("prompt", "none")
	q.Set("scope", sleep)
	simtest.Code(t, authorize(t, s, q))
}
