package googlesim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a controllable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 20, 10, 15, 30, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	testRedirect = "https://app.example/callback"
	testVerifier = "01234567890123456789012345678901234567890123456789"
)

var (
	scopeActivity = ScopeURL(AreaActivity, false)
	scopeMetrics  = ScopeURL(AreaMetrics, false)
	scopeSleep    = ScopeURL(AreaSleep, false)
	scopeProfile  = ScopeURL(AreaProfile, false)
	scopeSettings = ScopeURL(AreaSettings, false)
	allRead       = strings.Join([]string{scopeActivity, scopeMetrics, scopeProfile, scopeSettings, scopeSleep}, " ")
)

// start starts a simulator with a fake clock and a registered redirect URI.
func start(t *testing.T, cfg Config) (*Server, *fakeClock) {
	t.Helper()
	clk := newClock()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.RedirectURIs == nil {
		cfg.RedirectURIs = []string{testRedirect}
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

// noRedirect is an HTTP client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON: %d %s", r.status, r.body)
	}
	return m
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// authorizeQuery builds an offline authorization request with PKCE and
// prompt=consent, as the gateway sends it.
func authorizeQuery(s *Server, scope string) url.Values {
	return url.Values{
		"client_id":             {s.ClientID()},
		"response_type":         {"code"},
		"scope":                 {scope},
		"redirect_uri":          {testRedirect},
		"state":                 {"st-123"},
		"code_challenge":        {S256Challenge(testVerifier)},
		"code_challenge_method": {"S256"},
		"access_type":           {"offline"},
		"prompt":                {"consent"},
	}
}

func authorize(t *testing.T, s *Server, q url.Values) response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.AuthorizeURL()+"?"+q.Encode(), nil)
	return do(t, req)
}

// codeFrom runs the consent screen and returns the code from the redirect.
func codeFrom(t *testing.T, s *Server, q url.Values) string {
	t.Helper()
	r := authorize(t, s, q)
	if r.status != http.StatusFound {
		t.Fatalf("authorize: %d %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

func getCode(t *testing.T, s *Server, scope string) string {
	t.Helper()
	return codeFrom(t, s, authorizeQuery(s, scope))
}

// post sends a form to an OAuth endpoint.
func post(t *testing.T, endpoint string, form url.Values) response {
	t.Helper()
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
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

func tokens(t *testing.T, r response) TokenResponse {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", r.status, r.body)
	}
	var tr TokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// login runs the whole offline code flow for scope and returns the tokens.
func login(t *testing.T, s *Server, scope string) TokenResponse {
	t.Helper()
	return tokens(t, exchange(t, s, getCode(t, s, scope)))
}

func api(t *testing.T, s *Server, method, path, token string, body io.Reader, hdr ...string) response {
	t.Helper()
	req, _ := http.NewRequest(method, s.APIBase()+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

// wantOAuthError checks an RFC 6749 error answer.
func wantOAuthError(t *testing.T, r response, status int, code, desc string) {
	t.Helper()
	var e OAuthError
	if r.status != status || json.Unmarshal(r.body, &e) != nil || e.Error != code || (desc != "" && e.ErrorDescription != desc) {
		t.Fatalf("got %d %s, want %d %s %q", r.status, r.body, status, code, desc)
	}
}

// wantStatus checks a google.rpc.Status answer.
func wantStatus(t *testing.T, r response, code int, status string) StatusError {
	t.Helper()
	var e ErrorBody
	if r.status != code || json.Unmarshal(r.body, &e) != nil || e.Error.Code != code || e.Error.Status != status {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, code, status)
	}
	return e.Error
}
