package googlesim

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
)

const (
	testRedirect = simtest.RedirectURI
	testVerifier = simtest.Verifier
)

var (
	scopeActivity = ScopeURL(AreaActivity, false)
	scopeSleep    = ScopeURL(AreaSleep, false)
	scopeProfile  = ScopeURL(AreaProfile, false)
	scopeSettings = ScopeURL(AreaSettings, false)
)

type response = simtest.Response

var (
	do        = simtest.Do
	authorize = simtest.Authorize
	tokens    = simtest.Tokens[TokenResponse]
	api       = simtest.API
)

// start starts a simulator with a fake clock and a registered redirect URI.
func start(t *testing.T, cfg Config) (*Server, *simtest.Clock) {
	t.Helper()
	clk := simtest.Fixture(&cfg.Now, &cfg.RedirectURIs)
	s, err := Start(cfg)
	return simtest.Serving(t, s, err), clk
}

// authorizeQuery builds an offline authorization request with PKCE and
// prompt=consent, as the gateway sends it.
func authorizeQuery(s *Server, scope string) url.Values {
	q := simtest.AuthorizeQuery(s.ClientID(), scope)
	q.Set("access_type", "offline")
	q.Set("prompt", "consent")
	return q
}

// codeFrom runs the consent screen and returns the code from the redirect.
func codeFrom(t *testing.T, s *Server, q url.Values) string {
	t.Helper()
	return simtest.Code(t, authorize(t, s, q))
}

func getCode(t *testing.T, s *Server, scope string) string {
	t.Helper()
	return codeFrom(t, s, authorizeQuery(s, scope))
}

// post sends a form to an OAuth endpoint.
func post(t *testing.T, endpoint string, form url.Values) response {
	t.Helper()
	return do(t, simtest.NewForm(endpoint, form))
}

// withClient adds the client credentials to a token request form.
func withClient(s *Server, form url.Values) url.Values {
	form.Set("client_id", s.ClientID())
	form.Set("client_secret", s.ClientSecret())
	return form
}

func exchange(t *testing.T, s *Server, code string) response {
	t.Helper()
	return post(t, s.TokenURL(), withClient(s, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
	}))
}

func refresh(t *testing.T, s *Server, rt string) response {
	t.Helper()
	return post(t, s.TokenURL(), withClient(s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}))
}

// login runs the whole offline code flow for scope and returns the tokens.
func login(t *testing.T, s *Server, scope string) TokenResponse {
	t.Helper()
	return tokens(t, exchange(t, s, getCode(t, s, scope)))
}

// wantOAuthError checks an RFC 6749 error answer.
func wantOAuthError(t *testing.T, r response, status int, code, desc string) {
	t.Helper()
	var e OAuthError
	if r.Status != status || json.Unmarshal(r.Body, &e) != nil || e.Error != code || (desc != "" && e.ErrorDescription != desc) {
		t.Fatalf("got %d %s, want %d %s %q", r.Status, r.Body, status, code, desc)
	}
}

// wantStatus checks a google.rpc.Status answer.
func wantStatus(t *testing.T, r response, code int, status string) StatusError {
	t.Helper()
	var e ErrorBody
	if r.Status != code || json.Unmarshal(r.Body, &e) != nil || e.Error.Code != code || e.Error.Status != status {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, code, status)
	}
	return e.Error
}
