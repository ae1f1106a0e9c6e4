// Package simtest holds test helpers shared by the simulators' own tests:
// a controllable clock and an HTTP client that shows redirects and reads
// whole responses.
package simtest

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// Clock is a controllable clock for a simulator's Config.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at 2026-11-20 10:15:30 UTC.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 11, 20, 10, 15, 30, 0, time.UTC)}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Serving fails t if starting s failed, and closes s when t ends.
func Serving[S io.Closer](t testing.TB, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NoRedirect is an HTTP client that shows redirects instead of following them.
var NoRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// Response is a whole HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req with NoRedirect and reads the whole response.
func Do(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := NoRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{resp.StatusCode, resp.Header, b}
}

// JSON decodes the body as a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("not JSON: %d %s", r.Status, r.Body)
	}
	return m
}

// Decode checks that r is a 200 (what names the endpoint in the failure)
// and decodes its JSON body.
func Decode[T any](t testing.TB, r Response, what string) T {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Get sends a GET of u (a consent page, say).
func Get(t testing.TB, u string) Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return Do(t, req)
}

// Code returns the authorization code of the redirect r, a consent page's
// answer; it fails t unless r is a 302 with a code.
func Code(t testing.TB, r Response) string {
	t.Helper()
	if r.Status != http.StatusFound {
		t.Fatalf("authorize: %d %s", r.Status, r.Body)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

// RedirectURI and Verifier are the redirect URI the simulators' tests
// register and the PKCE code verifier they send.
const (
	RedirectURI = "https://app.example/callback"
	Verifier    = "01234567890123456789012345678901234567890123456789"
)

// Fixture fills a simulator Config's clock and redirect URIs, where they
// are unset, with a new Clock and RedirectURI, and returns the clock.
func Fixture(now *func() time.Time, redirectURIs *[]string) *Clock {
	clk := NewClock()
	if *now == nil {
		*now = clk.Now
	}
	if *redirectURIs == nil {
		*redirectURIs = []string{RedirectURI}
	}
	return clk
}

// AuthorizeQuery is an authorization request of clientID for scope with
// PKCE (S256 of Verifier), to RedirectURI, with state "st-123".
func AuthorizeQuery(clientID, scope string) url.Values {
	return url.Values{
		"client_id":             {clientID},
		"response_type":         {"code"},
		"scope":                 {scope},
		"redirect_uri":          {RedirectURI},
		"state":                 {"st-123"},
		"code_challenge":        {simkit.S256Challenge(Verifier)},
		"code_challenge_method": {"S256"},
	}
}

// Authorize sends the authorization request q to s's consent page.
func Authorize(t testing.TB, s interface{ AuthorizeURL() string }, q url.Values) Response {
	t.Helper()
	return Get(t, s.AuthorizeURL()+"?"+q.Encode())
}

// Tokens decodes a token endpoint's 200 answer as T.
func Tokens[T any](t testing.TB, r Response) T {
	t.Helper()
	return Decode[T](t, r, "token endpoint")
}

// API sends a data-API request to s's APIBase()+path with an optional
// bearer token and headers given as name, value pairs.
func API(t testing.TB, s interface{ APIBase() string }, method, path, token string, body io.Reader, hdr ...string) Response {
	t.Helper()
	req, _ := http.NewRequest(method, s.APIBase()+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return Do(t, req)
}

// NewForm returns a POST of form to endpoint, form-encoded.
func NewForm(endpoint string, form url.Values) *http.Request {
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// ConsentForm reads a simulator's consent page (simkit.WriteConsentPage),
// failing t unless r is one, and returns its form's hidden fields and the
// scopes it offers, as a person's browser would submit them before ticking
// and pressing a button.
func ConsentForm(t testing.TB, r Response) (form url.Values, scopes []string) {
	t.Helper()
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("not a consent page: %d %v %s", r.Status, r.Header, r.Body)
	}
	form = url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(r.Body), -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	for _, m := range scopeBox.FindAllStringSubmatch(string(r.Body), -1) {
		scopes = append(scopes, html.UnescapeString(m[1]))
	}
	return form, scopes
}

var (
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	scopeBox    = regexp.MustCompile(`name="sim_scope" value="([^"]*)"`)
)

// Answer posts a consent form back to s's consent page: decision "allow"
// or "deny", with the scopes ticked.
func Answer(t testing.TB, s interface{ AuthorizeURL() string }, form url.Values, decision string, ticked ...string) Response {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("sim_decision", decision)
	f["sim_scope"] = ticked
	return Do(t, NewForm(s.AuthorizeURL(), f))
}
