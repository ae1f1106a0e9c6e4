package inject

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbiterr"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const connectURL = "https://gw.example/fitbit/authorize"

type outcomes struct {
	mu sync.Mutex
	n  map[Outcome]int
}

func (o *outcomes) Proxied(outcome Outcome) {
	o.mu.Lock()
	if o.n == nil {
		o.n = map[Outcome]int{}
	}
	o.n[outcome]++
	o.mu.Unlock()
}

func (o *outcomes) get(outcome Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[outcome]
}

type fixture struct {
	sim   *fitbitsim.Server
	store tokenstore.Store
	m     *tokens.Manager
	tr    *Transport
	obs   *outcomes
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	sim, err := fitbitsim.Start(fitbitsim.Config{GraceWindow: -1, RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	k := sha256.Sum256([]byte("inject test key"))
	kr, err := tokenstore.NewKeyring([][]byte{k[:]})
	if err != nil {
		t.Fatal(err)
	}
	store := tokenstore.NewStorageStore(&certmagic.FileStorage{Path: t.TempDir()}, kr, "")
	reg := provider.Registration{
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
		RedirectURL: "https://gw.example/fitbit/callback",
		Endpoints: provider.Endpoints{
			AuthURL: sim.AuthorizeURL(), TokenURL: sim.TokenURL(), RevokeURL: sim.RevokeURL(), APIBase: sim.APIBase(),
		},
	}.WithDefaults(provider.Fitbit)
	m := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: store})
	obs := &outcomes{}
	base := &http.Transport{DisableCompression: false}
	t.Cleanup(base.CloseIdleConnections)
	tr := &Transport{
		Base:       base,
		Tokens:     m,
		Provider:   m.Provider(),
		Identity:   func(r *http.Request) string { return r.Header.Get("X-Test-Identity") },
		ConnectURL: connectURL,
		Observer:   obs,
	}
	return &fixture{sim: sim, store: store, m: m, tr: tr, obs: obs}
}

// connect stores a fresh connection of identity to the simulated user.
func (f *fixture) connect(t testing.TB, identity, user string) *tokenstore.Record {
	t.Helper()
	tr := f.sim.MintTokens(user)
	now := time.Now()
	rec := &tokenstore.Record{
		Provider: "fitbit", IdentityHash: tokenstore.IdentityHash(identity), UserID: tr.UserID,
		Scopes: strings.Fields(tr.Scope), AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		TokenType: "Bearer", Expiry: now.Add(8 * time.Hour), Status: tokenstore.StatusOK, ConnectedAt: now,
	}
	if cur, err := f.store.LoadConnection(context.Background(), tokenstore.KeyOfRecord(rec)); err == nil {
		rec.Version = cur.Version // replace, as a reconnect does
	}
	if err := f.store.SaveConnection(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func (f *fixture) current(t testing.TB, identity string) *tokenstore.Record {
	t.Helper()
	rec, err := f.store.LoadConnection(context.Background(), tokenstore.KeyOf("fitbit", identity))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func newReq(t testing.TB, method, url, identity string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if identity != "" {
		req.Header.Set("X-Test-Identity", identity)
	}
	return req
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func roundTrip(t testing.TB, rt http.RoundTripper, req *http.Request) answer {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
		t.Fatalf("ContentLength %d, body %d bytes", resp.ContentLength, len(b))
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
		t.Fatalf("Content-Length header %s, body %d bytes", cl, len(b))
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func envelope(t testing.TB, a answer) fitbiterr.Item {
	t.Helper()
	var env fitbiterr.Envelope
	if err := json.Unmarshal(a.body, &env); err != nil || len(env.Errors) != 1 || env.Success {
		t.Fatalf("not a Fitbit envelope: %d %s", a.status, a.body)
	}
	return env.Errors[0]
}

func TestInjectsTokenAndStripsCallerCredentials(t *testing.T) {
	f := newFixture(t)
	rec := f.connect(t, "alice", "AAAAAA")
	f.connect(t, "bob", "BBBBBB")
	req := newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "alice", nil)
	req.Header.Set("Authorization", "OAuth oauth_consumer_key=\"legacy\"")
	req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	req.Header.Add("Cookie", "session=abc")
	req.Header.Add("Cookie", "other=def")
	req.Header.Set("Accept-Language", "en_GB")
	a := roundTrip(t, f.tr, req)
	if a.status != 200 {
		t.Fatalf("status %d %s", a.status, a.body)
	}
	reqs := f.sim.Requests()
	got := reqs[len(reqs)-1]
	if v := got.Header.Values("Authorization"); len(v) != 1 || v[0] != "Bearer "+rec.AccessToken {
		t.Fatalf("Authorization %v", v)
	}
	if got.Header.Get("Proxy-Authorization") != "" || len(got.Header.Values("Cookie")) != 0 {
		t.Fatalf("caller credentials passed on: %v", got.Header)
	}
	if got.Header.Get("Accept-Language") != "en_GB" || got.UserID != "AAAAAA" {
		t.Fatalf("request %+v", got)
	}
	// bob gets bob's data, never alice's.
	roundTrip(t, f.tr, newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "bob", nil))
	reqs = f.sim.Requests()
	if reqs[len(reqs)-1].UserID != "BBBBBB" {
		t.Fatal("bob was given another user's token")
	}
	if f.obs.get(OutcomeProxied) != 2 {
		t.Fatalf("outcomes %v", f.obs.n)
	}
}

func TestGatewayErrors(t *testing.T) {
	f := newFixture(t)
	// No identity.
	a := roundTrip(t, f.tr, newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "", nil))
	if it := envelope(t, a); a.status != 401 || it.ErrorType != fitbiterr.Unauthenticated {
		t.Fatalf("%d %+v", a.status, it)
	}
	// Not connected: names where to connect.
	a = roundTrip(t, f.tr, newReq(t, "POST", f.sim.APIBase()+"/1/user/-/echo", "carol", strings.NewReader("x=1")))
	it := envelope(t, a)
	if a.status != 401 || it.ErrorType != fitbiterr.NotConnected || !strings.Contains(it.Message, connectURL) {
		t.Fatalf("%d %+v", a.status, it)
	}
	if a.header.Get("Link") != "<"+connectURL+">; rel=\"authorize\"" || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("headers %v", a.header)
	}
	// Needs reauth: the user revoked access at Fitbit.
	f.connect(t, "dave", "DDDDDD")
	f.sim.RevokeUser("DDDDDD")
	a = roundTrip(t, f.tr, newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "dave", nil))
	if it := envelope(t, a); a.status != 401 || it.ErrorType != fitbiterr.ReauthorizationNeeded || !strings.Contains(it.Message, connectURL) {
		t.Fatalf("%d %+v", a.status, it)
	}
	if f.sim.Stats().APIRequests != 1 {
		t.Fatal("gateway errors reached the API")
	}
	if f.obs.get(OutcomeUnauthenticated) != 1 || f.obs.get(OutcomeNotConnected) != 1 || f.obs.get(OutcomeNeedsReauth) != 1 {
		t.Fatalf("outcomes %v", f.obs.n)
	}
}

// chunked hides the length of a reader from net/http.
type chunked struct{ io.Reader }

func TestExpiredTokenRefreshedAndReplayedIdentically(t *testing.T) {
	payload := bytes.Repeat([]byte("activityId=90013&durationMillis=600000&"), 1000) // ~39 KB
	cases := map[string]func() (io.Reader, int64){
		"no body":      func() (io.Reader, int64) { return nil, 0 },
		"fixed length": func() (io.Reader, int64) { return bytes.NewReader(payload), int64(len(payload)) },
		"chunked":      func() (io.Reader, int64) { return chunked{bytes.NewReader(payload)}, -1 },
		"empty chunked": func() (io.Reader, int64) {
			return chunked{strings.NewReader("")}, -1
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			old := f.connect(t, "alice", "AAAAAA")
			f.sim.ExpireAccessTokens("AAAAAA")
			body, n := mk()
			req := newReq(t, "POST", f.sim.APIBase()+"/1/user/-/echo?x=1", "alice", body)
			req.ContentLength = n
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			a := roundTrip(t, f.tr, req)
			if a.status != 200 {
				t.Fatalf("status %d %s", a.status, a.body)
			}
			reqs := f.sim.Requests()
			if len(reqs) != 2 || reqs[0].Status != 401 || reqs[1].Status != 200 {
				t.Fatalf("requests %+v", reqs)
			}
			fresh := f.current(t, "alice")
			if fresh.AccessToken == old.AccessToken {
				t.Fatal("not refreshed")
			}
			if reqs[0].Header.Get("Authorization") != "Bearer "+old.AccessToken || reqs[1].Header.Get("Authorization") != "Bearer "+fresh.AccessToken {
				t.Fatal("wrong tokens sent")
			}
			if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
				t.Fatalf("replayed body differs: %d vs %d bytes", len(reqs[0].Body), len(reqs[1].Body))
			}
			if n != 0 && !bytes.Equal(reqs[1].Body, payload) && name != "empty chunked" {
				t.Fatal("body altered")
			}
			for _, h := range []string{"Content-Type"} {
				if reqs[0].Header.Get(h) != reqs[1].Header.Get(h) {
					t.Fatalf("header %s differs", h)
				}
			}
			if reqs[0].RawQuery != reqs[1].RawQuery || reqs[0].Method != reqs[1].Method {
				t.Fatal("request line differs")
			}
			if s := f.sim.Stats(); s.Refreshes != 1 || s.InvalidGrants != 0 {
				t.Fatalf("stats %+v", s)
			}
			if f.obs.get(OutcomeReplayed) != 1 {
				t.Fatalf("outcomes %v", f.obs.n)
			}
		})
	}
}

func TestOversizeBodyStreamedNotReplayed(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KB
	for _, known := range []bool{true, false} {
		t.Run("known length "+strconv.FormatBool(known), func(t *testing.T) {
			f := newFixture(t)
			f.tr.MaxReplayBody = 4096
			old := f.connect(t, "alice", "AAAAAA")
			f.sim.ExpireAccessTokens("AAAAAA")
			var body io.Reader = bytes.NewReader(payload)
			n := int64(len(payload))
			if !known {
				body, n = chunked{body}, -1
			}
			req := newReq(t, "POST", f.sim.APIBase()+"/1/user/-/echo", "alice", body)
			req.ContentLength = n
			a := roundTrip(t, f.tr, req)
			it := envelope(t, a)
			if a.status != 401 || it.ErrorType != fitbiterr.ReplayImpossible || !strings.Contains(it.Message, "4096") {
				t.Fatalf("%d %+v", a.status, it)
			}
			if strings.Contains(string(a.body), old.AccessToken) {
				t.Fatal("token in the answer")
			}
			reqs := f.sim.Requests()
			if len(reqs) != 1 {
				t.Fatalf("sent %d times", len(reqs))
			}
			if !bytes.Equal(reqs[0].Body, payload) {
				t.Fatalf("upstream got %d bytes, want the complete %d", len(reqs[0].Body), len(payload))
			}
			// The token was renewed, so the app's retry will work.
			if f.current(t, "alice").AccessToken == old.AccessToken || f.sim.Stats().Refreshes != 1 {
				t.Fatal("not refreshed")
			}
			if f.obs.get(OutcomeNotReplayed) != 1 {
				t.Fatalf("outcomes %v", f.obs.n)
			}
		})
	}
}

// upstream is an httptest server answering with h; it records the
// Authorization headers it saw.
func upstream(t *testing.T, h func(w http.ResponseWriter, r *http.Request, token string)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOther401sPassedThroughWithoutRefresh(t *testing.T) {
	bodies := map[string]string{
		"google":         `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`,
		"invalid_client": `{"errors":[{"errorType":"invalid_client","message":"Invalid authorization header. Client id invalid."}],"success":false}`,
		"not json":       `Unauthorized`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			old := f.connect(t, "alice", "AAAAAA")
			up := upstream(t, func(w http.ResponseWriter, r *http.Request, _ string) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="x"`)
				w.WriteHeader(401)
				_, _ = io.WriteString(w, body)
			})
			a := roundTrip(t, f.tr, newReq(t, "GET", up.URL+"/1/user/-/profile.json", "alice", nil))
			if a.status != 401 || string(a.body) != body || a.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%d %s", a.status, a.body)
			}
			if f.sim.Stats().Refreshes != 0 || f.current(t, "alice").AccessToken != old.AccessToken {
				t.Fatal("refreshed")
			}
		})
	}
}

func TestUpstreamErrorBodiesRedacted(t *testing.T) {
	for _, status := range []int{400, 401, 403, 429, 500} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			f := newFixture(t)
			rec := f.connect(t, "alice", "AAAAAA")
			up := upstream(t, func(w http.ResponseWriter, r *http.Request, token string) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"errors":[{"errorType":"insufficient_scope","message":"Token `+token+` lacks scope; token was `+token+`"}],"success":false}`)
			})
			a := roundTrip(t, f.tr, newReq(t, "GET", up.URL+"/1/user/-/sleep.json", "alice", nil))
			if a.status != status {
				t.Fatalf("status %d", a.status)
			}
			if strings.Contains(string(a.body), rec.AccessToken) || strings.Count(string(a.body), fitbiterr.Redacted) != 2 {
				t.Fatalf("body %s", a.body)
			}
			if a.header.Get("Content-Length") != strconv.Itoa(len(a.body)) {
				t.Fatal("Content-Length not fixed")
			}
		})
	}
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGzipErrorBodyDecodedAndRedacted(t *testing.T) {
	f := newFixture(t)
	rec := f.connect(t, "alice", "AAAAAA")
	up := upstream(t, func(w http.ResponseWriter, r *http.Request, token string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(403)
		_, _ = w.Write(gz(t, []byte(`{"errors":[{"errorType":"insufficient_scope","message":"token `+token+`"}],"success":false}`)))
	})
	req := newReq(t, "GET", up.URL+"/1/user/-/sleep.json", "alice", nil)
	req.Header.Set("Accept-Encoding", "gzip") // as the app's client sent it: net/http does not decode
	a := roundTrip(t, f.tr, req)
	if a.status != 403 || a.header.Get("Content-Encoding") != "" {
		t.Fatalf("%d %v", a.status, a.header)
	}
	it := envelope(t, a)
	if it.Message != "token "+fitbiterr.Redacted || strings.Contains(string(a.body), rec.AccessToken) {
		t.Fatalf("body %s", a.body)
	}
}

func TestUncheckableErrorBodyNeverPassed(t *testing.T) {
	cases := map[string]struct {
		enc  []string
		body func(token string) []byte
	}{
		"br":       {[]string{"br"}, func(tok string) []byte { return []byte("\x1b\x00" + tok) }},
		"bad gzip": {[]string{"gzip"}, func(tok string) []byte { return []byte("not gzip " + tok) }},
		"gzip bomb": {[]string{"gzip"}, func(tok string) []byte {
			return gz(t, append([]byte(tok), bytes.Repeat([]byte{' '}, 1<<20)...))
		}},
		// Two codings: the second one hides the token from a check that
		// looks at the first header value only.
		"identity then gzip": {[]string{"identity", "gzip"}, func(tok string) []byte { return gz(t, []byte("token "+tok)) }},
		"gzip twice":         {[]string{"gzip, gzip"}, func(tok string) []byte { return gz(t, gz(t, []byte("token "+tok))) }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.connect(t, "alice", "AAAAAA")
			up := upstream(t, func(w http.ResponseWriter, r *http.Request, token string) {
				for _, e := range tc.enc {
					w.Header().Add("Content-Encoding", e)
				}
				w.WriteHeader(403)
				_, _ = w.Write(tc.body(token))
			})
			req := newReq(t, "GET", up.URL+"/1/user/-/sleep.json", "alice", nil)
			req.Header.Set("Accept-Encoding", "gzip, br")
			a := roundTrip(t, f.tr, req)
			it := envelope(t, a)
			if a.status != 403 || it.ErrorType != fitbiterr.UpstreamUnavailable || a.header.Get("Content-Encoding") != "" {
				t.Fatalf("%d %v %s", a.status, a.header, a.body)
			}
			if leaks(a.body, rec.AccessToken) {
				t.Fatal("token passed on")
			}
		})
	}
}

// leaks reports whether token is in b, also after gunzipping b (repeatedly).
func leaks(b []byte, token string) bool {
	for i := 0; i < 4; i++ {
		if bytes.Contains(b, []byte(token)) {
			return true
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return false
		}
		d, _ := io.ReadAll(io.LimitReader(zr, 8<<20))
		b = d
	}
	return false
}

func TestSuccessBodyStreamedNotBuffered(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	gate := make(chan struct{})
	first := bytes.Repeat([]byte("a"), 64<<10)
	rest := bytes.Repeat([]byte("b"), 4<<20)
	up := upstream(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(200)
		_, _ = w.Write(first)
		w.(http.Flusher).Flush()
		<-gate
		_, _ = w.Write(rest)
	})
	req := newReq(t, "GET", up.URL+"/1/user/-/big", "alice", nil)
	type res struct {
		resp *http.Response
		err  error
	}
	done := make(chan res, 1)
	go func() {
		resp, err := f.tr.RoundTrip(req)
		done <- res{resp, err}
	}()
	var r res
	select {
	case r = <-done:
	case <-time.After(30 * time.Second): // a guard against a hang, not a timing assertion
		close(gate)
		t.Fatal("RoundTrip waited for the whole 2xx body")
	}
	close(gate)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.resp.Body.Close()
	b, err := io.ReadAll(r.resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, append(first, rest...)) {
		t.Fatalf("body altered (%d bytes)", len(b))
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestBaseFailureReturned(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	boom := errors.New("connection refused")
	f.tr.Base = rtFunc(func(r *http.Request) (*http.Response, error) { return nil, boom })
	req := newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "alice", nil)
	if _, err := f.tr.RoundTrip(req); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "alice", nil).WithContext(ctx)
	if _, err := f.tr.RoundTrip(req); err == nil {
		t.Fatal("no error")
	}
	if f.obs.get(OutcomeUpstreamError) != 1 || f.obs.get(OutcomeCanceled) != 1 {
		t.Fatalf("outcomes %v", f.obs.n)
	}
}

// The RoundTripper contract allows Base to read the request body after
// RoundTrip returned (net/http does when the server answers before the body
// is sent). A buffered body must stay intact until then, even while other
// requests are being buffered.
func TestBufferedBodyOutlivesRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	type late struct {
		body io.ReadCloser
		want []byte
	}
	var pending []late
	f.tr.Base = rtFunc(func(r *http.Request) (*http.Response, error) {
		pending = append(pending, late{r.Body, nil})
		return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	for i := 0; i < 50; i++ {
		payload := bytes.Repeat([]byte{byte('A' + i%26)}, 8192)
		req := newReq(t, "POST", f.sim.APIBase()+"/1/user/-/echo", "alice", bytes.NewReader(payload))
		resp, err := f.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		pending[len(pending)-1].want = payload
	}
	for i, p := range pending {
		got, _ := io.ReadAll(p.body)
		p.body.Close()
		if !bytes.Equal(got, p.want) {
			t.Fatalf("request %d: the body read after RoundTrip returned is another request's", i)
		}
	}
}

func TestDeterministicBodyReadError(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	req := newReq(t, "POST", f.sim.APIBase()+"/1/user/-/echo", "alice", chunked{io.MultiReader(strings.NewReader("abc"), errReader{})})
	req.ContentLength = -1
	a := roundTrip(t, f.tr, req)
	if it := envelope(t, a); a.status != 400 || it.ErrorType != fitbiterr.InvalidRequest {
		t.Fatalf("%d %+v", a.status, it)
	}
	if f.sim.Stats().APIRequests != 0 || f.obs.get(OutcomeBadRequest) != 1 {
		t.Fatal("unreadable request sent upstream")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

// FuzzRoundTripUpstreamError: whatever error the upstream answers, in any
// content coding, the app never receives the access token it was sent with.
func FuzzRoundTripUpstreamError(f *testing.F) {
	fx := newFixture(f)
	fx.connect(f, "alice", "AAAAAA")
	tokenMsg := func(typ string) []byte {
		return []byte(`{"errors":[{"errorType":"` + typ + `","message":"Access token expired: {T}. Visit https://dev.fitbit.com/docs/oauth2"}],"success":false}`)
	}
	f.Add(401, "", false, tokenMsg("expired_token"))
	f.Add(401, "", false, tokenMsg("invalid_token"))
	f.Add(403, "", false, tokenMsg("insufficient_scope"))
	f.Add(400, "gzip", true, tokenMsg("invalid_request"))
	f.Add(401, "gzip", true, tokenMsg("expired_token"))
	f.Add(401, "gzip", false, []byte("{T}"))
	f.Add(500, "br", false, []byte("{T}"))
	f.Add(429, "identity", false, []byte("{T}{T}{T}"))
	f.Add(403, "identity,gzip", true, []byte("{T}"))
	f.Add(502, "x-gzip", true, []byte(`{"error":{"code":502,"message":"{T}","status":"UNAVAILABLE"}}`))
	f.Fuzz(func(t *testing.T, status int, enc string, compress bool, body []byte) {
		status = 400 + (status%200+200)%200 // error statuses: 2xx/3xx bodies are passed on by design
		var mu sync.Mutex
		var sent []string
		fx.tr.Base = rtFunc(func(r *http.Request) (*http.Response, error) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			mu.Lock()
			sent = append(sent, tok)
			mu.Unlock()
			if r.Body != nil {
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
			b := bytes.ReplaceAll(body, []byte("{T}"), []byte(tok))
			if compress {
				b = gz(t, b)
			}
			h := http.Header{"Www-Authenticate": {`Bearer error="invalid_token", token="` + tok + `"`}}
			for _, e := range strings.Split(enc, ",") {
				if e != "" {
					h.Add("Content-Encoding", e)
				}
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
		})
		req := newReq(t, "POST", fx.sim.APIBase()+"/1/user/-/echo", "alice", strings.NewReader("a=b"))
		resp, err := fx.tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, tok := range sent {
			if leaks(got, tok) {
				t.Fatalf("token reached the app: status %d, enc %q, body %q", resp.StatusCode, resp.Header.Values("Content-Encoding"), got)
			}
			for k, vs := range resp.Header {
				for _, v := range vs {
					if strings.Contains(v, tok) {
						t.Fatalf("token in header %s", k)
					}
				}
			}
		}
	})
}

// A request routed to a host that may not receive the token is answered
// 502 and never sent.
func TestRefusesUpstreamNotAllowed(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	var sent int
	f.tr.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	f.tr.Upstream = func(r *http.Request) bool { return r.URL.Host == "api.example" }
	a := roundTrip(t, f.tr, newReq(t, "GET", "http://elsewhere.example/1/user/-/profile.json", "alice", nil))
	if it := envelope(t, a); a.status != 502 || it.ErrorType != fitbiterr.UpstreamNotAllowed {
		t.Fatalf("to a host not allowed: %d %s", a.status, a.body)
	}
	if sent != 0 || f.obs.get(OutcomeUpstreamRefused) != 1 {
		t.Fatalf("sent %d requests, outcomes %v", sent, f.obs.n)
	}
	if a := roundTrip(t, f.tr, newReq(t, "GET", "http://api.example/1/user/-/profile.json", "alice", nil)); a.status != 200 || sent != 1 {
		t.Fatalf("to the API: %d, sent %d", a.status, sent)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// trickle gives one byte per Read, a second apart on the clock now.
type trickle struct {
	left int
	now  *time.Time
}

func (r *trickle) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	*r.now = r.now.Add(time.Second)
	r.left--
	p[0] = 'x'
	return 1, nil
}

// A body that trickles in is answered 408 once buffering it has taken
// replay_body_timeout, and nothing is sent upstream.
func TestReplayBodyTimeoutEndsATrickle(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	now := time.Now()
	var sent int
	f.tr.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	f.tr.Now, f.tr.ReplayBodyTimeout = func() time.Time { return now }, 5*time.Second
	var deadlines []time.Time
	lifted := 0
	f.tr.BodyDeadline = func(_ *http.Request, d time.Time) func() {
		deadlines = append(deadlines, d)
		return func() { lifted++ }
	}
	start := now
	req := newReq(t, "POST", f.sim.APIBase()+"/1/user/-/foods/log.json", "alice", io.NopCloser(&trickle{left: 26, now: &now}))
	req.ContentLength = 26
	a := roundTrip(t, f.tr, req)
	if it := envelope(t, a); a.status != http.StatusRequestTimeout || it.ErrorType != fitbiterr.RequestTimeout || !strings.Contains(it.Message, "5s") {
		t.Fatalf("trickled body: %d %s", a.status, a.body)
	}
	if sent != 0 || f.obs.get(OutcomeBodyTimeout) != 1 {
		t.Fatalf("sent %d requests, outcomes %v", sent, f.obs.n)
	}
	if len(deadlines) != 1 || !deadlines[0].Equal(start.Add(5*time.Second)) || lifted != 1 {
		t.Fatalf("connection deadline set %v (want once, at start+5s), lifted %d times", deadlines, lifted)
	}

	// The same body, fast enough: buffered and sent.
	req = newReq(t, "POST", f.sim.APIBase()+"/1/user/-/foods/log.json", "alice", io.NopCloser(&trickle{left: 3, now: &now}))
	if a := roundTrip(t, f.tr, req); a.status != 200 || sent != 1 {
		t.Fatalf("body within the deadline: %d, sent %d", a.status, sent)
	}
}

// stalled blocks until its deadline fires, then fails as a connection
// whose read deadline passed.
type stalled struct{ fired chan struct{} }

func (r *stalled) Read([]byte) (int, error) {
	<-r.fired
	return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// A body that stalls is ended by the connection's read deadline, which
// BodyDeadline sets, and answered 408.
func TestReplayBodyTimeoutEndsAStall(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	body := &stalled{fired: make(chan struct{})}
	f.tr.BodyDeadline = func(*http.Request, time.Time) func() {
		close(body.fired) // as the server would, once the deadline passes
		return nil
	}
	req := newReq(t, "POST", f.sim.APIBase()+"/1/user/-/foods/log.json", "alice", io.NopCloser(body))
	a := roundTrip(t, f.tr, req)
	if it := envelope(t, a); a.status != http.StatusRequestTimeout || it.ErrorType != fitbiterr.RequestTimeout {
		t.Fatalf("stalled body: %d %s", a.status, a.body)
	}
}
