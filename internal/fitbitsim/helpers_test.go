package fitbitsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbiterr"
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

func (r response) item(t *testing.T) fitbiterr.Item {
	t.Helper()
	var env fitbiterr.Envelope
	if err := json.Unmarshal(r.body, &env); err != nil || len(env.Errors) != 1 || env.Success {
		t.Fatalf("not a Fitbit error envelope: %d %s", r.status, r.body)
	}
	return env.Errors[0]
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

// authorizeQuery builds a standard authorization request with PKCE.
func authorizeQuery(s *Server, scope string) url.Values {
	return url.Values{
		"client_id":             {s.ClientID()},
		"response_type":         {"code"},
		"scope":                 {scope},
		"redirect_uri":          {testRedirect},
		"state":                 {"st-123"},
		"code_challenge":        {S256Challenge(testVerifier)},
		"code_challenge_method": {"S256"},
	}
}

func authorize(t *testing.T, s *Server, q url.Values) response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.AuthorizeURL()+"?"+q.Encode(), nil)
	return do(t, req)
}

// getCode runs the consent page and returns the code from the redirect.
func getCode(t *testing.T, s *Server, scope string) string {
	t.Helper()
	r := authorize(t, s, authorizeQuery(s, scope))
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

// post sends a form to an OAuth endpoint with the server app's Basic auth
// (basic=true) or none.
func post(t *testing.T, s *Server, endpoint string, form url.Values, basic bool) response {
	t.Helper()
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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

// login runs the whole code flow for scope and returns the tokens.
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

func wantError(t *testing.T, r response, status int, errorType string) fitbiterr.Item {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	it := r.item(t)
	if it.ErrorType != errorType {
		t.Fatalf("errorType %q, want %q: %s", it.ErrorType, errorType, r.body)
	}
	return it
}
