package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
)

// outcome is how one app request ended.
type outcome struct {
	kind     string // okKind, retryKind, cutKind or failKind
	key      string // retryKind: "<front|gateway> <status> <errorType>"
	post     bool
	identity string
	took     time.Duration
	detail   string // failKind: what was wrong
}

const (
	okKind    = "ok"
	retryKind = "retryable 5xx"
	cutKind   = "cut off by a kill"
	failKind  = "failure"
)

// request sends one app request for identity through the front and checks
// the answer: 200 with the identity's own data, or a retryable 5xx in
// Fitbit's error envelope.
func (r *run) request(identity string, post bool, seq int64) outcome {
	start := time.Now()
	var req *http.Request
	var sent []byte
	if post {
		sent = fmt.Appendf(nil, `{"seq":%d,"identity":%q}`, seq, identity)
		req, _ = http.NewRequest(http.MethodPost, r.frontURL+"/1/user/-/echo", bytes.NewReader(sent))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, _ = http.NewRequest(http.MethodGet, r.frontURL+"/1/user/-/profile.json", nil)
	}
	req.SetBasicAuth(identity, identityPasswd)
	o := outcome{post: post, identity: identity}
	fail := func(format string, args ...any) outcome {
		o.kind, o.took = failKind, time.Since(start)
		o.detail = fmt.Sprintf("%s %s %s at %s (after %v): ", identity, req.Method, req.URL.Path,
			start.Format("15:04:05.000"), o.took.Round(time.Millisecond)) + fmt.Sprintf(format, args...)
		return o
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fail("no answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	o.took = time.Since(start)
	if err != nil {
		// An instance killed while the front was relaying its answer.
		if r.lastKill.Load() >= start.Add(-time.Second).UnixNano() {
			o.kind = cutKind
			return o
		}
		return fail("%d, body cut off with no kill nearby: %v", resp.StatusCode, err)
	}
	want := r.fitbit[identity]
	switch {
	case resp.StatusCode == http.StatusOK && post:
		var echo struct {
			Body   string `json:"body"`
			UserID string `json:"userId"`
		}
		if json.Unmarshal(body, &echo) != nil || echo.UserID != want || echo.Body != string(sent) {
			return fail("200 but not this identity's echo (want user %s): %.300s", want, body)
		}
	case resp.StatusCode == http.StatusOK:
		var prof struct {
			User struct {
				EncodedID string `json:"encodedId"`
			} `json:"user"`
		}
		if json.Unmarshal(body, &prof) != nil || prof.User.EncodedID != want {
			return fail("200 but not this identity's profile (want %s): %.300s", want, body)
		}
	case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		it, ok := apierror.Parse(body)
		if !ok || it.ErrorType == "" {
			return fail("%d without Fitbit's error envelope: %.300s", resp.StatusCode, body)
		}
		src := "gateway"
		if resp.Header.Get("X-Chaos-Front-Error") != "" {
			src = "front"
		}
		o.kind, o.key = retryKind, fmt.Sprintf("%s %d %s", src, resp.StatusCode, it.ErrorType)
		return o
	default:
		return fail("%d: %.300s", resp.StatusCode, body)
	}
	o.kind = okKind
	return o
}

// results counts outcomes.
type results struct {
	mu       sync.Mutex
	total    int
	okGet    int
	okPost   int
	cut      int
	retry    map[string]int
	failures int
	examples []string       // the first failures
	failed   map[string]int // identity -> failures
	slow     int            // answers that took over 5 s (waiting out a dead holder's lock)
	maxTook  time.Duration
}

func (s *results) init() { s.retry, s.failed = map[string]int{}, map[string]int{} }

func (s *results) add(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.maxTook = max(s.maxTook, o.took)
	if o.took > 5*time.Second {
		s.slow++
	}
	switch o.kind {
	case okKind:
		if o.post {
			s.okPost++
		} else {
			s.okGet++
		}
	case retryKind:
		s.retry[o.key]++
	case cutKind:
		s.cut++
	default:
		s.failures++
		s.failed[o.identity]++
		if len(s.examples) < 25 {
			s.examples = append(s.examples, o.detail)
		}
	}
}

func (s *results) retryTotal() int {
	n := 0
	for _, c := range s.retry {
		n += c
	}
	return n
}

func (s *results) retryLines() []string {
	var out []string
	for k, c := range s.retry {
		out = append(out, fmt.Sprintf("%s: %d", k, c))
	}
	sort.Strings(out)
	return out
}

// authTransport adds the identity's basic auth to requests for the front
// only (never to the simulated Fitbit the browser is sent to).
type authTransport struct {
	host, user string
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == a.host {
		req = req.Clone(req.Context())
		req.SetBasicAuth(a.user, identityPasswd)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// connectAll connects every identity through the browser flow, via the
// front (so authorize and callback may land on different instances): each
// consent goes to the Fitbit user of the identity being connected.
func (r *run) connectAll() {
	t := r.t
	var current atomic.Value
	r.sim.SetConsent(func(*http.Request, []string) fitbitsim.Consent {
		return fitbitsim.Consent{UserID: current.Load().(string)}
	})
	for i, id := range r.users {
		fid := fmt.Sprintf("CH%04d", i+1)
		current.Store(fid)
		browserConnect(t, r.frontURL, id)
		r.fitbit[id] = fid
	}
	r.sim.SetConsent(nil)
	for _, id := range r.users {
		st, err := r.status(id)
		if err != nil || !st.Connected || st.UserID != r.fitbit[id] || st.Health != "ok" {
			t.Fatalf("status of %s after connecting: %+v %v", id, st, err)
		}
	}
	if got := r.sim.Stats().CodeExchanges; got != int64(len(r.users)) {
		t.Fatalf("simulator saw %d code exchanges for %d identities", got, len(r.users))
	}
}

// browserConnect connects identity through the browser flow at the gateway
// base, with a fresh cookie jar, and fails t unless it ends in "Connected".
func browserConnect(t *testing.T, base, identity string) {
	t.Helper()
	u, _ := url.Parse(base)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &authTransport{host: u.Host, user: identity}}
	resp, err := browser.Get(base + "/fitbit/authorize")
	if err != nil {
		t.Fatalf("connect %s at %s: %v", identity, base, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Connected") {
		t.Fatalf("connect %s at %s: %d %.500s", identity, base, resp.StatusCode, body)
	}
}

// connStatus is the answer of <prefix>/status.
type connStatus struct {
	Connected bool   `json:"connected"`
	UserID    string `json:"user_id"`
	Health    string `json:"health"`
}

func (r *run) status(identity string) (connStatus, error) {
	var st connStatus
	req, _ := http.NewRequest(http.MethodGet, r.frontURL+"/fitbit/status", nil)
	req.SetBasicAuth(identity, identityPasswd)
	resp, err := r.client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	return st, json.Unmarshal(body, &st)
}
