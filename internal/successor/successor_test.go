package successor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/translate"
)

var simNow = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// bearer stands in for the Google registration's injecting transport: it
// adds a fixed token and sends through base (Counting, as in the gateway).
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// refusing stands in for the injecting transport of an identity not
// connected to Google: the gateway's own 401, which never reaches Google.
type refusing struct{}

func (refusing) RoundTrip(r *http.Request) (*http.Response, error) {
	body := apierror.Marshal(apierror.Item{ErrorType: apierror.NotConnected, Message: "connect at /google/authorize"})
	return &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Content-Type": {apierror.Fitbit.ContentType()}},
		Body: io.NopCloser(strings.NewReader(string(body))), Request: r}, nil
}

func startServer(t testing.TB) *Server {
	t.Helper()
	g, err := googlesim.Start(googlesim.Config{Now: func() time.Time { return simNow }, RateLimitPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	tok := g.MintTokens(g.Config().DefaultUser, g.AllScopes()...)
	s, err := NewServer(bearer{tok.AccessToken, Counting(http.DefaultTransport)}, g.URL(), func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func call(t *testing.T, rt http.RoundTripper, path string) (*http.Response, map[string]any) {
	t.Helper()
	return callReq(t, rt, httptest.NewRequest(http.MethodGet, path, nil))
}

func callReq(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s: %v", req.URL.Path, err)
	}
	return resp, v
}

func errorType(v map[string]any) string {
	errs, _ := v["errors"].([]any)
	if len(errs) != 1 {
		return ""
	}
	it, _ := errs[0].(map[string]any)
	s, _ := it["errorType"].(string)
	return s
}

func TestServerAnswersFromGoogle(t *testing.T) {
	s := startServer(t)
	resp, v := call(t, s, "/1/user/-/profile.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Fatalf("profile: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, ok := v["user"]; !ok {
		t.Fatalf("profile: no user in %v", v)
	}
	if got := resp.Header.Get(CallsHeader); got != "3" {
		t.Errorf("profile: %s %q, want 3 (as documented)", CallsHeader, got)
	}
	resp, v = call(t, s, "/1/user/-/activities/date/today.json")
	if resp.StatusCode != http.StatusOK || v["summary"] == nil {
		t.Fatalf("daily summary: %d %v", resp.StatusCode, v)
	}
}

func TestServerRefusalsInFitbitEnvelope(t *testing.T) {
	s := startServer(t)
	resp, v := call(t, s, "/1/user/-/foods/log/date/today.json")
	if resp.StatusCode != http.StatusNotFound || errorType(v) != "not_available_from_successor" {
		t.Errorf("untranslated path: %d %v", resp.StatusCode, v)
	}
	if got := resp.Header.Get(CallsHeader); got != "0" {
		t.Errorf("untranslated path: %s %q, want 0", CallsHeader, got)
	}
	resp, v = call(t, s, "/1/user/-/activities/date/2026-13-01.json")
	if resp.StatusCode != http.StatusBadRequest || errorType(v) != "validation" {
		t.Errorf("bad date: %d %v", resp.StatusCode, v)
	}
}

func TestServerPassesTheGatewaysRefusal(t *testing.T) {
	s, err := NewServer(refusing{}, "http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, v := call(t, s, "/1/user/-/profile.json")
	if resp.StatusCode != http.StatusUnauthorized || errorType(v) != apierror.NotConnected {
		t.Errorf("not connected to Google: %d %v", resp.StatusCode, v)
	}
	// Connected to neither: Fitbit's own answer says where to connect.
	r := &Router{Mode: Fallback, Fitbit: connections{tokens.ErrNotConnected}, Identity: func(*http.Request) string { return "alice" },
		Pass: tagged("fitbit"), Successor: s}
	if resp, err := r.RoundTrip(httptest.NewRequest(http.MethodGet, "/1/user/-/profile.json", nil)); err != nil || resp.Header.Get("Via") != "fitbit" {
		t.Errorf("connected to neither: went to %q (%v), want fitbit", resp.Header.Get("Via"), err)
	}
}

type connections struct{ err error }

func (c connections) Get(context.Context, string) (*tokens.Entry, error) { return nil, c.err }

type tagged string

func (t tagged) Answer(r *http.Request, _ string) (*http.Response, bool, error) {
	resp, err := t.RoundTrip(r)
	return resp, false, err
}

func (t tagged) RoundTripAs(r *http.Request, _ string) (*http.Response, error) { return t.RoundTrip(r) }

func (t tagged) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Via": {string(t)}},
		Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
}

func TestRouter(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode Mode
		conn error
		path string
		want string
	}{
		{"fallback, not connected to Fitbit", Fallback, tokens.ErrNotConnected, "/1/user/-/profile.json", "google"},
		{"fallback, Fitbit needs reauth", Fallback, tokens.ErrNeedsReauth, "/1/user/-/profile.json", "google"},
		{"fallback, connected to Fitbit", Fallback, nil, "/1/user/-/profile.json", "fitbit"},
		{"fallback, a Google path", Fallback, tokens.ErrNotConnected, "/v4/users/me/profile", "fitbit"},
		{"always, connected to Fitbit", Always, nil, "/1.2/user/-/sleep/date/today.json", "google"},
		{"off, not connected", Off, tokens.ErrNotConnected, "/1/user/-/profile.json", "fitbit"},
		{"fallback, Fitbit gone just now", Fallback, nil, "/1/user/-/profile.json", "google"},
		{"fallback, Fitbit gone a while ago: probed", Fallback, nil, "/1/user/-/profile.json", "fitbit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Router{Mode: tc.mode, Fitbit: connections{tc.conn}, Identity: func(*http.Request) string { return "alice" },
				Pass: tagged("fitbit"), Successor: tagged("google"), Gone: new(provider.Gone), Now: func() time.Time { return simNow }}
			switch {
			case strings.HasSuffix(tc.name, "just now"):
				r.Gone.Mark(simNow.Add(-time.Second))
			case strings.HasSuffix(tc.name, "probed"):
				r.Gone.Mark(simNow.Add(-GoneProbe))
			}
			resp, err := r.RoundTrip(httptest.NewRequest(http.MethodGet, tc.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Via"); got != tc.want {
				t.Errorf("went to %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	want := func(name string, err error, status int, typ string) {
		t.Helper()
		resp := failure(err)
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != status || errorType(v) != typ || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v, want %d %s", name, resp.StatusCode, v, status, typ)
		}
	}
	want("a translation refusal", &translate.Error{Status: http.StatusForbidden, Type: translate.InsufficientScope, Message: "m"}, http.StatusForbidden, translate.InsufficientScope)
	want("too many Google calls", fmt.Errorf("steps: %w", translate.ErrTooManyCalls), http.StatusBadRequest, translate.Validation)
	want("another Google answer", &googleapi.Error{Code: http.StatusInternalServerError}, http.StatusBadGateway, "system")
	want("canceled", fmt.Errorf("list: %w", context.Canceled), http.StatusGatewayTimeout, "system")
	want("anything else", errors.New("dial tcp: refused"), http.StatusBadGateway, "system")
	want("Google's answer timed out", &url.Error{Op: "Get", URL: "https://health.googleapis.com/v4/users/me/settings", Err: timedOut{}}, http.StatusGatewayTimeout, "system")
}

// timedOut is a transport's timeout, as net/http reports one.
type timedOut struct{}

func (timedOut) Error() string   { return "timeout awaiting response headers" }
func (timedOut) Timeout() bool   { return true }
func (timedOut) Temporary() bool { return true }

// A translated write's body is read within BodyTimeout and up to
// MaxFormBody; beyond either, the app gets Fitbit's envelope at once.
func TestWriteBodyBounded(t *testing.T) {
	s := startServer(t)
	path := "/1/user/-/body/log/weight.json"
	post := func(body io.Reader) (*http.Response, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return callReq(t, roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, _, err := s.Answer(r, "alice")
			return resp, err
		}), req)
	}
	if resp, v := post(strings.NewReader("weight=70&date=2026-11-19")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("weight log: %d %v", resp.StatusCode, v)
	}
	resp, v := post(strings.NewReader("weight=70&date=2026-11-19&x=" + strings.Repeat("y", MaxFormBody)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorType(v) != apierror.RequestTooLarge {
		t.Errorf("oversize body: %d %v", resp.StatusCode, v)
	}
	// A body that has not arrived by the deadline: the clock has passed it
	// when the first byte is read.
	clock := simNow
	s.now = func() time.Time { t := clock; clock = clock.Add(time.Minute); return t }
	resp, v = post(strings.NewReader("weight=70&date=2026-11-19"))
	if resp.StatusCode != http.StatusRequestTimeout || errorType(v) != apierror.RequestTimeout {
		t.Errorf("late body: %d %v", resp.StatusCode, v)
	}
	if resp.Header.Get(CallsHeader) != "0" {
		t.Errorf("late body: %s %q, want 0", CallsHeader, resp.Header.Get(CallsHeader))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
