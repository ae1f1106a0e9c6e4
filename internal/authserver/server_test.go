package authserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The PKCE vector quoted in Fitbit's documentation.
const (
	verifier  = "01234567890123456789012345678901234567890123456789"
	challenge = "-4cf-Mzo_qg9-uq0F4QwWhRh4AjcAqNx7SbYVsdmyQM"
)

const (
	webApp      = "23WEB1"
	webSecret   = "s3cr3t-of-the-web-app"
	phoneApp    = "23PHN2"
	webRedirect = "https://app.example/callback?from=fitbit"
	phoneRedir  = "com.example.app:/oauth2redirect"
)

type harness struct {
	t     testing.TB
	srv   *authserver.Server
	store *storagestore.Store
	now   atomic.Int64 // seconds added to the real clock

	cookies []*http.Cookie // of the browser that browse is
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t}
	keys, err := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{7}, tokenstore.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	h.store = storagestore.New(&certmagic.FileStorage{Path: t.TempDir()}, keys, "")
	h.store.Now = h.clock
	h.srv = &authserver.Server{
		Apps: map[string]authserver.App{
			webApp:   {ID: webApp, Secret: webSecret, Type: authserver.ServerApp, RedirectURIs: []string{webRedirect, "https://app.example/other"}},
			phoneApp: {ID: phoneApp, Type: authserver.ClientApp, RedirectURIs: []string{phoneRedir}, Scopes: []string{"activity", "heartrate", "sleep", "profile"}},
		},
		Entries: h.store,
		Now:     h.clock,
	}
	for _, a := range h.srv.Apps {
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	h.srv.Init()
	return h
}

func (h *harness) clock() time.Time        { return time.Now().Add(time.Duration(h.now.Load()) * time.Second) }
func (h *harness) advance(d time.Duration) { h.now.Add(int64(d / time.Second)) }

// authorize parses an authorize request and issues its code, as the front
// does after the consent.
func (h *harness) authorize(q url.Values) string {
	h.t.Helper()
	a, e := h.srv.ParseAuthorize(q)
	if e != nil {
		h.t.Fatalf("authorize refused: %v", e)
	}
	code, err := h.srv.IssueCode(context.Background(), a, q.Get("redirect_uri") != "", "oauth2:identity-1", "22B7NF")
	if err != nil {
		h.t.Fatal(err)
	}
	return code
}

func phoneAuthorize() url.Values {
	return url.Values{"client_id": {phoneApp}, "response_type": {"code"}, "scope": {"activity heartrate"},
		"redirect_uri": {phoneRedir}, "state": {"st4te"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
}

// post calls an endpoint; basic is "id:secret" or "".
func (h *harness) post(path, basic string, form url.Values, header ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id, secret, ok := strings.Cut(basic, ":"); ok {
		r.SetBasicAuth(id, secret)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	if !h.srv.ServeEndpoint(w, r) {
		h.t.Fatalf("%s is not an endpoint", path)
	}
	return w
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	UserID       string `json:"user_id"`
}

func (h *harness) ok(w *httptest.ResponseRecorder) tokens {
	h.t.Helper()
	if w.Code != http.StatusOK {
		h.t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var tk tokens
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil {
		h.t.Fatal(err)
	}
	return tk
}

// refused checks a Fitbit error envelope, and that it quotes no credential.
func (h *harness) refused(w *httptest.ResponseRecorder, status int, errorType string, secrets ...string) {
	h.t.Helper()
	it, ok := apierror.Parse(w.Body.Bytes())
	if w.Code != status || !ok || it.ErrorType != errorType {
		h.t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, status, errorType)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(w.Body.String(), s) {
			h.t.Fatalf("the error quotes a credential: %s", w.Body)
		}
	}
}

func (h *harness) exchangePhone(code string) tokens {
	h.t.Helper()
	return h.ok(h.post("/oauth2/token", "", url.Values{"grant_type": {"authorization_code"}, "client_id": {phoneApp},
		"code": {code}, "redirect_uri": {phoneRedir}, "code_verifier": {verifier}}))
}

func (h *harness) refresh(app, basic, token string) *httptest.ResponseRecorder {
	h.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if basic == "" {
		f.Set("client_id", app)
	}
	return h.post("/oauth2/token", basic, f)
}

func (h *harness) call(token string) (*authserver.Principal, *authserver.Error) {
	r := httptest.NewRequest(http.MethodGet, "/1/user/-/profile.json", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	p, e := h.srv.Authenticate(r)
	if e == nil && r.Header.Get("Authorization") != "" {
		h.t.Fatal("the Bearer token was left on the request")
	}
	return p, e
}

func (h *harness) callRefused(token, errorType string) {
	h.t.Helper()
	if _, e := h.call(token); e == nil || e.ErrorType != errorType || e.Status != http.StatusUnauthorized {
		h.t.Fatalf("call with the token: %v, want 401 %s", e, errorType)
	}
}

func TestCodeFlowWithPKCE(t *testing.T) {
	h := newHarness(t)
	a, e := h.srv.ParseAuthorize(phoneAuthorize())
	if e != nil {
		t.Fatal(e)
	}
	code, err := h.srv.IssueCode(context.Background(), a, true, "oauth2:identity-1", "22B7NF")
	if err != nil {
		t.Fatal(err)
	}
	back, _ := url.Parse(a.CodeRedirect(code))
	if back.Fragment != "_=_" || back.Query().Get("code") != code || back.Query().Get("state") != "st4te" ||
		!strings.HasPrefix(back.String(), phoneRedir+"?") {
		t.Fatalf("redirect %s", back)
	}
	tk := h.exchangePhone(code)
	if tk.ExpiresIn != 28800 || tk.Scope != "activity heartrate" || tk.TokenType != "Bearer" || tk.UserID != "22B7NF" ||
		len(tk.RefreshToken) != 64 || tk.AccessToken == "" {
		t.Fatalf("token answer %+v", tk)
	}
	p, ae := h.call(tk.AccessToken)
	if ae != nil || p.Identity != "oauth2:identity-1" || p.UserID != "22B7NF" || p.Client != phoneApp {
		t.Fatalf("call: %+v %v", p, ae)
	}
	h.advance(authserver.DefaultAccessTTL)
	h.callRefused(tk.AccessToken, apierror.ExpiredToken)
	next := h.ok(h.refresh(phoneApp, "", tk.RefreshToken))
	if next.RefreshToken == tk.RefreshToken || next.AccessToken == tk.AccessToken || next.ExpiresIn != 28800 {
		t.Fatalf("not rotated: %+v", next)
	}
	if _, ae := h.call(next.AccessToken); ae != nil {
		t.Fatal(ae)
	}
}

func TestServerAppBasicAndPlainPKCE(t *testing.T) {
	h := newHarness(t)
	v := "plain-verifier-plain-verifier-plain-verifier-43"
	code := h.authorize(url.Values{"client_id": {webApp}, "response_type": {"code"}, "scope": {"sleep profile sleep"},
		"redirect_uri": {webRedirect}, "code_challenge": {v}, "code_challenge_method": {"plain"}})
	tk := h.ok(h.post("/oauth2/token", webApp+":"+webSecret, url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {v}, "expires_in": {"3600"}}))
	if tk.ExpiresIn != 3600 || tk.Scope != "sleep profile" {
		t.Fatalf("%+v", tk)
	}
	// Without PKCE, as server apps may.
	code = h.authorize(url.Values{"client_id": {webApp}, "response_type": {"code"}, "scope": {"sleep"}, "redirect_uri": {webRedirect}})
	h.ok(h.post("/oauth2/token", webApp+":"+webSecret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}))
}

// Refusals at the authorize step: those before the redirect URI is trusted
// are shown, never redirected; the others go back to the app.
func TestAuthorizeRefusals(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name     string
		change   func(url.Values)
		code     string
		redirect bool
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "NOPE") }, "invalid_request", false},
		{"wrong redirect URI", func(q url.Values) { q.Set("redirect_uri", phoneRedir+"/x") }, "invalid_request", false},
		{"redirect URI prefix", func(q url.Values) { q.Set("redirect_uri", "com.example.app:/oauth2") }, "invalid_request", false},
		{"repeated parameter", func(q url.Values) { q["redirect_uri"] = []string{phoneRedir, "https://evil.example/"} }, "invalid_request", false},
		{"implicit grant", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", true},
		{"no response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request", true},
		{"scope not the app's", func(q url.Values) { q.Set("scope", "activity nutrition") }, "invalid_scope", true},
		{"unknown scope", func(q url.Values) { q.Set("scope", "everything") }, "invalid_scope", true},
		{"no scope", func(q url.Values) { q.Del("scope") }, "invalid_scope", true},
		{"client app without PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", true},
		{"unknown PKCE method", func(q url.Values) { q.Set("code_challenge_method", "S512") }, "invalid_request", true},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request", true},
		{"bad prompt", func(q url.Values) { q.Set("prompt", "always") }, "invalid_request", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := phoneAuthorize()
			c.change(q)
			_, e := h.srv.ParseAuthorize(q)
			if e == nil || e.Code != c.code {
				t.Fatalf("got %v, want %s", e, c.code)
			}
			back := e.Redirect()
			if !c.redirect {
				if back != "" {
					t.Fatalf("redirected to %s", back)
				}
				return
			}
			u, _ := url.Parse(back)
			if !strings.HasPrefix(back, phoneRedir+"?") || u.Query().Get("error") != c.code || u.Query().Get("state") != "st4te" || u.Fragment != "_=_" {
				t.Fatalf("redirect %s", back)
			}
		})
	}
	for _, p := range []string{"none", "consent", "login", "login consent"} {
		q := phoneAuthorize()
		q.Set("prompt", p)
		if a, e := h.srv.ParseAuthorize(q); e != nil || a.Prompt != p {
			t.Fatalf("prompt %q: %v", p, e)
		}
	}
}

func TestDeniedRedirect(t *testing.T) {
	h := newHarness(t)
	a, _ := h.srv.ParseAuthorize(phoneAuthorize())
	u, _ := url.Parse(a.Denied().Redirect())
	if u.Query().Get("error") != "access_denied" || u.Query().Get("state") != "st4te" || u.Fragment != "_=_" {
		t.Fatalf("denial %s", u)
	}
}

func TestWrongSecret(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(url.Values{"client_id": {webApp}, "response_type": {"code"}, "scope": {"sleep"}, "redirect_uri": {webRedirect}})
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}
	w := h.post("/oauth2/token", webApp+":"+webSecret+"x", form)
	h.refused(w, http.StatusUnauthorized, apierror.InvalidClient, code, webSecret)
	if w.Header().Get("WWW-Authenticate") != `Basic realm="api.fitbit.com"` {
		t.Fatalf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
	}
	// A server app must authenticate; client_id alone is not enough.
	form.Set("client_id", webApp)
	h.refused(h.post("/oauth2/token", "", form), http.StatusUnauthorized, apierror.InvalidClient)
	// The code was not spent by the failures.
	form.Del("client_id")
	h.ok(h.post("/oauth2/token", webApp+":"+webSecret, form))
}

func TestWrongVerifier(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(phoneAuthorize())
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {phoneApp}, "code": {code}, "redirect_uri": {phoneRedir},
		"code_verifier": {strings.Repeat("9", 50)}}
	h.refused(h.post("/oauth2/token", "", form), http.StatusBadRequest, apierror.InvalidGrant, code)
	form.Del("code_verifier")
	h.refused(h.post("/oauth2/token", "", form), http.StatusBadRequest, apierror.InvalidRequest)
	h.exchangePhone(code)
}

func TestVerifierWithoutChallenge(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(url.Values{"client_id": {webApp}, "response_type": {"code"}, "scope": {"sleep"}, "redirect_uri": {webRedirect}})
	h.refused(h.post("/oauth2/token", webApp+":"+webSecret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier}}), http.StatusBadRequest, apierror.InvalidGrant)
}

func TestWrongRedirectAtExchange(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(phoneAuthorize())
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {phoneApp}, "code": {code}, "code_verifier": {verifier}}
	h.refused(h.post("/oauth2/token", "", form), http.StatusBadRequest, apierror.InvalidRequest) // named at authorize: required
	form.Set("redirect_uri", phoneRedir+"?x=1")
	h.refused(h.post("/oauth2/token", "", form), http.StatusBadRequest, apierror.InvalidGrant)
	h.exchangePhone(code)
}

func TestCodeReuseRevokesTheGrant(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(phoneAuthorize())
	tk := h.exchangePhone(code)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {phoneApp}, "code": {code}, "redirect_uri": {phoneRedir}, "code_verifier": {verifier}}
	h.refused(h.post("/oauth2/token", "", form), http.StatusBadRequest, apierror.InvalidGrant, code)
	h.callRefused(tk.AccessToken, apierror.InvalidToken)
	h.refused(h.refresh(phoneApp, "", tk.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant, tk.RefreshToken)
}

func TestExpiredCode(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(phoneAuthorize())
	h.advance(authserver.DefaultCodeTTL)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {phoneApp}, "code": {code}, "redirect_uri": {phoneRedir}, "code_verifier": {verifier}}
	h.refused(h.post("/oauth2/token", "", form), http.StatusBadRequest, apierror.InvalidGrant, code)
}

func TestAnotherClientsCodeAndTokens(t *testing.T) {
	h := newHarness(t)
	code := h.authorize(phoneAuthorize())
	stolen := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {phoneRedir}, "code_verifier": {verifier}}
	h.refused(h.post("/oauth2/token", webApp+":"+webSecret, stolen), http.StatusBadRequest, apierror.InvalidGrant)
	tk := h.exchangePhone(code) // the refusal did not spend it

	h.refused(h.refresh(webApp, webApp+":"+webSecret, tk.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant)
	h.refused(h.post("/oauth2/revoke", webApp+":"+webSecret, url.Values{"token": {tk.AccessToken}}), http.StatusBadRequest, apierror.InvalidRequest)

	webCode := h.authorize(url.Values{"client_id": {webApp}, "response_type": {"code"}, "scope": {"sleep"}, "redirect_uri": {webRedirect}})
	web := h.ok(h.post("/oauth2/token", webApp+":"+webSecret, url.Values{"grant_type": {"authorization_code"}, "code": {webCode}, "redirect_uri": {webRedirect}}))
	w := h.post("/1.1/oauth2/introspect", "", url.Values{"token": {tk.AccessToken}}, "Authorization", "Bearer "+web.AccessToken)
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"active":false}` {
		t.Fatalf("introspect of another app's token: %d %s", w.Code, w.Body)
	}
	// The phone app's tokens still work.
	if _, e := h.call(tk.AccessToken); e != nil {
		t.Fatal(e)
	}
	h.ok(h.refresh(phoneApp, "", tk.RefreshToken))
}

func TestRefreshGraceWindow(t *testing.T) {
	h := newHarness(t)
	tk := h.exchangePhone(h.authorize(phoneAuthorize()))
	first := h.ok(h.refresh(phoneApp, "", tk.RefreshToken))
	h.advance(time.Minute)
	again := h.ok(h.refresh(phoneApp, "", tk.RefreshToken)) // the app lost the answer and retries
	if again.AccessToken != first.AccessToken || again.RefreshToken != first.RefreshToken || again.UserID != first.UserID {
		t.Fatal("a refresh repeated within the grace window got other tokens")
	}
	if _, e := h.call(first.AccessToken); e != nil {
		t.Fatal(e)
	}
	// Now that the new access token was used, the old refresh token is
	// reuse: the grant is revoked.
	h.refused(h.refresh(phoneApp, "", tk.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant, tk.RefreshToken)
	h.callRefused(first.AccessToken, apierror.InvalidToken)
	h.refused(h.refresh(phoneApp, "", first.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant)
}

// Reusing a rotated refresh token once its grace window is over, by time
// or because a successor was used, revokes the grant (RFC 9700 §4.14.2).
func TestRefreshReuseRevokes(t *testing.T) {
	for name, closeWindow := range map[string]func(h *harness, next tokens){
		"after the window": func(h *harness, _ tokens) { h.advance(authserver.DefaultGraceWindow + time.Second) },
		"after the new refresh token was used": func(h *harness, next tokens) {
			h.ok(h.refresh(phoneApp, "", next.RefreshToken))
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			tk := h.exchangePhone(h.authorize(phoneAuthorize()))
			next := h.ok(h.refresh(phoneApp, "", tk.RefreshToken))
			closeWindow(h, next)
			h.refused(h.refresh(phoneApp, "", tk.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant, tk.RefreshToken)
			h.callRefused(next.AccessToken, apierror.InvalidToken)
			h.refused(h.refresh(phoneApp, "", next.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant)
		})
	}
}

func TestRevokeAndIntrospect(t *testing.T) {
	h := newHarness(t)
	tk := h.exchangePhone(h.authorize(phoneAuthorize()))
	w := h.post("/1.1/oauth2/introspect", "", url.Values{"token": {tk.AccessToken}}, "Authorization", "Bearer "+tk.AccessToken)
	var in map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &in); err != nil || in["active"] != true || in["client_id"] != phoneApp ||
		in["user_id"] != "22B7NF" || in["scope"] != "{ACTIVITY=READ, HEARTRATE=READ}" || in["token_type"] != "access_token" {
		t.Fatalf("introspect: %d %s", w.Code, w.Body)
	}
	h.refused(h.post("/1.1/oauth2/introspect", "", url.Values{"token": {tk.AccessToken}}), http.StatusUnauthorized, apierror.InvalidToken)

	// An unknown token is not an error (RFC 7009 §2.2).
	if w := h.post("/oauth2/revoke", "", url.Values{"client_id": {phoneApp}, "token": {strings.Repeat("0", 64)}}); w.Code != http.StatusOK {
		t.Fatalf("revoke unknown: %d %s", w.Code, w.Body)
	}
	// Revoking the refresh token revokes the access token too.
	if w := h.post("/oauth2/revoke", "", url.Values{"client_id": {phoneApp}, "token": {tk.RefreshToken}}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	h.callRefused(tk.AccessToken, apierror.InvalidToken)
	h.refused(h.refresh(phoneApp, "", tk.RefreshToken), http.StatusBadRequest, apierror.InvalidGrant)

	// Revoking with the Bearer token, as Fitbit let client apps.
	tk = h.exchangePhone(h.authorize(phoneAuthorize()))
	if w := h.post("/oauth2/revoke", "", url.Values{"token": {tk.AccessToken}}, "Authorization", "Bearer "+tk.AccessToken); w.Code != http.StatusOK {
		t.Fatalf("revoke with Bearer: %d %s", w.Code, w.Body)
	}
	h.callRefused(tk.AccessToken, apierror.InvalidToken)
}

func TestTokenEndpointRequests(t *testing.T) {
	h := newHarness(t)
	h.refused(h.post("/oauth2/token", "", url.Values{"client_id": {phoneApp}}), http.StatusBadRequest, apierror.InvalidRequest)
	h.refused(h.post("/oauth2/token", "", url.Values{"client_id": {phoneApp}, "grant_type": {"password"}}), http.StatusBadRequest, "unsupported_grant_type")
	h.refused(h.post("/oauth2/token", "", url.Values{"client_id": {phoneApp}, "grant_type": {"refresh_token"}}), http.StatusBadRequest, apierror.InvalidRequest)
	h.refused(h.post("/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}}), http.StatusUnauthorized, apierror.InvalidClient)
	h.refused(h.refresh(phoneApp, "", strings.Repeat("a", 64)), http.StatusBadRequest, apierror.InvalidGrant)
	// Parameters in the query, as some old clients sent them.
	code := h.authorize(phoneAuthorize())
	q := url.Values{"grant_type": {"authorization_code"}, "client_id": {phoneApp}, "code": {code}, "redirect_uri": {phoneRedir}, "code_verifier": {verifier}}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token?"+q.Encode(), nil)
	w := httptest.NewRecorder()
	h.srv.ServeEndpoint(w, r)
	h.ok(w)
}

// fakeConnector connects every identity that Begin is called for, unless
// deny is set, and records where the browser would resume.
type fakeConnector struct {
	h         *harness
	deny      bool
	begun     []string
	connected map[string]string
	granted   []string // the upstream's scopes; nil: not said
	next      string
	consent   []string // the scopes of the last Begin
	login     bool     // the last Begin asked the user to sign in again
	none      bool     // ConsentScopes allows nothing
}

func (c *fakeConnector) Begin(w http.ResponseWriter, r *http.Request, _ authserver.App, identity string, consent provider.Consent) {
	c.begun = append(c.begun, identity)
	c.consent, c.login = consent.Scopes, consent.Login
	resume := authserver.Resume
	if c.deny {
		resume = authserver.ResumeDenied
	} else {
		c.connected[identity] = "22B7NF"
	}
	c.next, _ = resume(r.Context(), c.h.store, identity)
	http.Redirect(w, r, "https://accounts.google.example/consent", http.StatusFound)
}

// ConsentScopes maps as the google_health registration does.
func (c *fakeConnector) ConsentScopes(_ authserver.App, asked []string) []string {
	if c.none {
		return []string{}
	}
	return append(provider.GoogleScopes(asked), provider.GoogleScopes([]string{"settings"})...)
}

func (c *fakeConnector) Connection(_ context.Context, _ authserver.App, identity string) (authserver.Connection, error) {
	if id, ok := c.connected[identity]; ok {
		return authserver.Connection{UserID: id, Scopes: c.granted}, nil
	}
	return authserver.Connection{}, authserver.ErrNotConnected
}

// browse is a visit of the authorize step by the harness's one browser,
// which keeps its cookies.
func (h *harness) browse(target, identity string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, c := range h.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.srv.Authorize(w, r, identity)
	if cs := w.Result().Cookies(); len(cs) > 0 {
		h.cookies = cs
	}
	return w
}

func withConnector(t *testing.T) (*harness, *fakeConnector) {
	h := newHarness(t)
	c := &fakeConnector{h: h, connected: map[string]string{}}
	h.srv.Connector = c
	return h, c
}

func TestSignInThroughTheConsent(t *testing.T) {
	h, c := withConnector(t)
	start := "/oauth2/authorize?" + phoneAuthorize().Encode()
	if w := h.browse(start, ""); w.Code != http.StatusFound || len(c.begun) != 1 || !strings.HasPrefix(c.begun[0], authserver.IdentityPrefix) {
		t.Fatalf("begin: %d %v", w.Code, c.begun)
	}
	w := h.browse(c.next, "")
	back, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || !strings.HasPrefix(back.String(), phoneRedir+"?") || back.Fragment != "_=_" || back.Query().Get("state") != "st4te" {
		t.Fatalf("back to the app: %d %s", w.Code, back)
	}
	tk := h.exchangePhone(back.Query().Get("code"))
	if p, e := h.call(tk.AccessToken); e != nil || p.Identity != c.begun[0] || tk.UserID != "22B7NF" {
		t.Fatalf("%+v %v", p, e)
	}
	// The resume link is single-use.
	if w := h.browse(c.next, ""); w.Code != http.StatusBadRequest {
		t.Fatalf("resume again: %d", w.Code)
	}
	// A second sign-in is a new identity.
	h.browse(start, "")
	if len(c.begun) != 2 || c.begun[1] == c.begun[0] {
		t.Fatalf("identities %v", c.begun)
	}
}

// The token's scope is what the user granted upstream of what the app
// asked; nothing granted is a denial.
func TestSignInGetsTheScopesGranted(t *testing.T) {
	h, c := withConnector(t)
	c.granted = []string{"https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly", "sleep"}
	h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "")
	back, _ := url.Parse(h.browse(c.next, "").Header().Get("Location"))
	if tk := h.exchangePhone(back.Query().Get("code")); tk.Scope != "heartrate" {
		t.Fatalf("scope %q, want heartrate (activity was not granted)", tk.Scope)
	}
	c.granted = []string{"sleep"}
	h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "")
	back, _ = url.Parse(h.browse(c.next, "").Header().Get("Location"))
	if back.Query().Get("error") != "access_denied" {
		t.Fatalf("nothing granted: %s", back)
	}
}

func TestSignInDenied(t *testing.T) {
	h, c := withConnector(t)
	c.deny = true
	h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "")
	w := h.browse(c.next, "")
	back, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "st4te" || back.Fragment != "_=_" {
		t.Fatalf("denial: %d %s", w.Code, back)
	}
}

func TestSignInOfAnAuthenticatedUser(t *testing.T) {
	h, c := withConnector(t)
	c.connected["alice"] = "ALICE1"
	w := h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "alice")
	back, _ := url.Parse(w.Header().Get("Location"))
	if len(c.begun) != 0 || back.Query().Get("code") == "" {
		t.Fatalf("a connected, authenticated user was sent to the consent: %s %v", back, c.begun)
	}
	if tk := h.exchangePhone(back.Query().Get("code")); tk.UserID != "ALICE1" {
		t.Fatalf("%+v", tk)
	}
	// prompt=consent asks again, for the same identity, and a denial there
	// is a denial even though alice is connected.
	q := phoneAuthorize()
	q.Set("prompt", "consent")
	c.deny = true
	h.browse("/oauth2/authorize?"+q.Encode(), "alice")
	if len(c.begun) != 1 || c.begun[0] != "alice" {
		t.Fatalf("begun %v", c.begun)
	}
	w = h.browse(c.next, "alice")
	if back, _ := url.Parse(w.Header().Get("Location")); back.Query().Get("error") != "access_denied" {
		t.Fatalf("denial: %s", back)
	}
}

// A sign-in is finished only in the browser that began it: its resume link
// opened elsewhere gets nothing and stays usable for the right browser.
func TestSignInBoundToTheBrowser(t *testing.T) {
	h, c := withConnector(t)
	h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "")
	mine := h.cookies
	h.cookies = nil
	if w := h.browse(c.next, ""); w.Code != http.StatusForbidden || w.Header().Get("Location") != "" {
		t.Fatalf("another browser: %d %q", w.Code, w.Header().Get("Location"))
	}
	h.cookies = []*http.Cookie{{Name: "fitbit_oauth2", Value: strings.Repeat("A", 43)}}
	if w := h.browse(c.next, ""); w.Code != http.StatusForbidden {
		t.Fatalf("a forged cookie: %d", w.Code)
	}
	h.cookies = mine
	if w := h.browse(c.next, ""); w.Code != http.StatusFound || !strings.Contains(w.Header().Get("Location"), "code=") {
		t.Fatalf("the right browser: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// prompt=none answers without an interaction, or interaction_required.
func TestSignInWithPromptNone(t *testing.T) {
	h, c := withConnector(t)
	q := phoneAuthorize()
	q.Set("prompt", "none")
	back, _ := url.Parse(h.browse("/oauth2/authorize?"+q.Encode(), "").Header().Get("Location"))
	if back.Query().Get("error") != "interaction_required" || back.Query().Get("state") != "st4te" || len(c.begun) != 0 {
		t.Fatalf("a new sign-in with prompt=none: %s", back)
	}
	c.connected["alice"] = "ALICE1"
	back, _ = url.Parse(h.browse("/oauth2/authorize?"+q.Encode(), "alice").Header().Get("Location"))
	if back.Query().Get("code") == "" || len(c.begun) != 0 {
		t.Fatalf("a connected user with prompt=none: %s", back)
	}
}

// prompt=login (alone or with consent) has the upstream consent ask the
// user to sign in again; other prompts do not.
func TestSignInWithPromptLogin(t *testing.T) {
	for prompt, login := range map[string]bool{"": false, "consent": false, "login": true, "login consent": true} {
		h, c := withConnector(t)
		q := phoneAuthorize()
		if prompt != "" {
			q.Set("prompt", prompt)
		}
		h.browse("/oauth2/authorize?"+q.Encode(), "")
		if len(c.begun) != 1 || c.login != login {
			t.Errorf("prompt %q: begun %d, login %v", prompt, len(c.begun), c.login)
		}
	}
}

func TestSignInRefusalsAreNotRedirectedToStrangers(t *testing.T) {
	h, c := withConnector(t)
	q := phoneAuthorize()
	q.Set("redirect_uri", "https://evil.example/")
	if w := h.browse("/oauth2/authorize?"+q.Encode(), ""); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" || len(c.begun) != 0 {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
	}
	if w := h.browse("/oauth2/authorize?resume=nope", ""); w.Code != http.StatusBadRequest {
		t.Fatalf("unknown resume: %d", w.Code)
	}
}

// Another instance sharing the store stops a revoked token within the
// access cache's lifetime; this one at once.
func TestRevocationReachesOtherInstances(t *testing.T) {
	h := newHarness(t)
	other := &authserver.Server{Apps: h.srv.Apps, Entries: h.store, Now: h.clock}
	other.Init()
	tk := h.exchangePhone(h.authorize(phoneAuthorize()))
	call := func(s *authserver.Server) *authserver.Error {
		r := httptest.NewRequest(http.MethodGet, "/1/user/-/profile.json", nil)
		r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
		_, e := s.Authenticate(r)
		return e
	}
	if call(other) != nil || call(h.srv) != nil {
		t.Fatal("the token was refused")
	}
	if w := h.post("/oauth2/revoke", "", url.Values{"client_id": {phoneApp}, "token": {tk.AccessToken}}); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d", w.Code)
	}
	if e := call(h.srv); e == nil || e.ErrorType != apierror.InvalidToken {
		t.Fatalf("here: %v", e)
	}
	h.advance(30 * time.Second)
	if e := call(other); e == nil || e.ErrorType != apierror.InvalidToken {
		t.Fatalf("on the other instance after 30s: %v", e)
	}
}

// The consent asks for the upstream scopes of the Fitbit scopes asked (and
// what the translation needs); a connected user who granted fewer than
// this sign-in needs goes through the consent again, for the union.
func TestSignInConsentForTheScopesAsked(t *testing.T) {
	h, c := withConnector(t)
	g := provider.GoogleScopes
	h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "")
	if want := g([]string{"activity", "heartrate", "settings"}); !slices.Equal(c.consent, want) {
		t.Fatalf("consent %v, want %v", c.consent, want)
	}
	c.connected["alice"] = "ALICE1"
	c.granted = g([]string{"sleep", "activity", "settings"})
	h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "alice")
	if want := g([]string{"activity", "heartrate", "settings", "sleep"}); len(c.begun) != 2 || c.begun[1] != "alice" || !slices.Equal(c.consent, want) {
		t.Fatalf("incremental consent %v %v, want %v", c.begun, c.consent, want)
	}
	c.granted = append(c.granted, g([]string{"heartrate"})...)
	back, _ := url.Parse(h.browse(c.next, "alice").Header().Get("Location"))
	if tk := h.exchangePhone(back.Query().Get("code")); tk.Scope != "activity heartrate" {
		t.Fatalf("scope %q", tk.Scope)
	}
	// Granted all: answered at once.
	if w := h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "alice"); len(c.begun) != 2 || !strings.Contains(w.Header().Get("Location"), "code=") {
		t.Fatalf("begun %v, %q", c.begun, w.Header().Get("Location"))
	}
}

// Scopes the upstream registration allows none of are refused before any
// consent.
func TestSignInScopesUnavailableUpstream(t *testing.T) {
	h, c := withConnector(t)
	c.none = true
	back, _ := url.Parse(h.browse("/oauth2/authorize?"+phoneAuthorize().Encode(), "").Header().Get("Location"))
	if back.Query().Get("error") != "invalid_scope" || back.Query().Get("state") != "st4te" || len(c.begun) != 0 {
		t.Fatalf("%s %v", back, c.begun)
	}
}

// Every request to the front is observed, by client (when known), endpoint
// and result, for the metrics.
func TestObserve(t *testing.T) {
	h := newHarness(t)
	var seen []string
	h.srv.Observe = func(client, endpoint, result string) { seen = append(seen, client+" "+endpoint+" "+result) }
	code := h.authorize(phoneAuthorize())
	tk := h.exchangePhone(code)
	h.refused(h.refresh(phoneApp, "", "not-a-token"), http.StatusBadRequest, apierror.InvalidGrant)
	h.refused(h.post("/oauth2/token", webApp+":wrong", url.Values{"grant_type": {"refresh_token"}}), http.StatusUnauthorized, apierror.InvalidClient)
	if _, e := h.call(tk.AccessToken); e != nil {
		t.Fatal(e)
	}
	h.callRefused("unknown", apierror.InvalidToken)
	h.advance(9 * time.Hour)
	h.callRefused(tk.AccessToken, apierror.ExpiredToken)
	h.ok(h.post("/oauth2/revoke", "", url.Values{"client_id": {phoneApp}, "token": {tk.RefreshToken}}))
	want := []string{
		phoneApp + " token ok",
		phoneApp + " token invalid_grant",
		" token invalid_client", // not authenticated: no client
		phoneApp + " api ok",
		" api invalid_token",
		" api expired_token",
		phoneApp + " revoke ok",
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("observed\n%q\nwant\n%q", seen, want)
	}
}
