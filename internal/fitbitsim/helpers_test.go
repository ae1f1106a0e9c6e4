package fitbitsim

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
)

const (
	testRedirect = simtest.RedirectURI
	testVerifier = simtest.Verifier
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

// item is the single item of a Fitbit error envelope.
func item(t *testing.T, r response) apierror.Item {
	t.Helper()
	var env apierror.Envelope
	if err := json.Unmarshal(r.Body, &env); err != nil || len(env.Errors) != 1 || env.Success {
		t.Fatalf("not a Fitbit error envelope: %d %s", r.Status, r.Body)
	}
	return env.Errors[0]
}

// authorizeQuery builds a standard authorization request with PKCE.
func authorizeQuery(s *Server, scope string) url.Values {
	return simtest.AuthorizeQuery(s.ClientID(), scope)
}

// getCode runs the consent page and returns the code from the redirect.
func getCode(t *testing.T, s *Server, scope string) string {
	t.Helper()
	return simtest.Code(t, authorize(t, s, authorizeQuery(s, scope)))
}

// post sends a form to an OAuth endpoint with the server app's Basic auth
// (basic=true) or none.
func post(t *testing.T, s *Server, endpoint string, form url.Values, basic bool) response {
	t.Helper()
	req := simtest.NewForm(endpoint, form)
	if basic {
		req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	}
	return do(t, req)
}

func exchange(t *testing.T, s *Server, code string) response {
	t.Helper()
	return post(t, s, s.TokenURL(), url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"code_verifier": {testVerifier},
	}, true)
}

func refresh(t *testing.T, s *Server, rt string) response {
	t.Helper()
	return post(t, s, s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
}

// login runs the whole code flow for scope and returns the tokens.
func login(t *testing.T, s *Server, scope string) TokenResponse {
	t.Helper()
	return tokens(t, exchange(t, s, getCode(t, s, scope)))
}

func wantError(t *testing.T, r response, status int, errorType string) apierror.Item {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	it := item(t, r)
	if it.ErrorType != errorType {
		t.Fatalf("errorType %q, want %q: %s", it.ErrorType, errorType, r.Body)
	}
	return it
}
