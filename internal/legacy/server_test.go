package legacy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const (
	consumerKey    = "legacy-app"
	consumerSecret = "legacy-app-secret-0123456789"
)

// fakeConnector stands in for the OAuth 2.0 connect flow: Begin connects
// the identity at once (as a consent that is given) and sends the browser
// on to the step legacy.Resume names, as the callback would.
type fakeConnector struct {
	mu        sync.Mutex
	connected map[string]string // identity → user id
	begun     int
	refuse    bool // Begin shows a refusal instead
	entries   tokenstore.Entries
}

func (c *fakeConnector) Begin(w http.ResponseWriter, r *http.Request, identity string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.begun++
	if c.refuse {
		http.Error(w, "consent refused", http.StatusOK)
		return
	}
	c.connected[identity] = "ABC" + strconv.Itoa(len(c.connected)+1)
	next, ok := legacy.Resume(r.Context(), c.entries, identity)
	if !ok {
		http.Error(w, "no step to resume", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *fakeConnector) UserID(_ context.Context, identity string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.connected[identity]
	if !ok {
		return "", legacy.ErrNotConnected
	}
	return id, nil
}

// echoed is what the test server's API answers: what it would proxy.
type echoed struct {
	Identity, UserID, Query, Body, Authorization string
}

type harness struct {
	t       testing.TB
	srv     *legacy.Server
	conn    *fakeConnector
	gateway *httptest.Server
	app     *httptest.Server // the legacy app's callback
	now     atomic.Int64     // the server's clock offset, seconds
	store   *storagestore.Store
	dir     string

	mu        sync.Mutex
	callbacks []url.Values
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, conn: &fakeConnector{connected: map[string]string{}}, dir: t.TempDir()}
	keys, err := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{9}, tokenstore.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	h.store = storagestore.New(&certmagic.FileStorage{Path: h.dir}, keys, "")
	h.store.Now = h.clock
	h.conn.entries = h.store
	h.srv = &legacy.Server{
		Consumers: map[string]legacy.Consumer{consumerKey: {Key: consumerKey, Secret: consumerSecret}},
		Entries:   h.store,
		Connector: h.conn,
		Now:       h.clock,
	}
	h.srv.Init()
	h.gateway = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.srv.ServeEndpoint(w, r) {
			return
		}
		id, uid, e := h.srv.Authenticate(r)
		if e != nil {
			e.Write(w, "test")
			return
		}
		body, _ := io.ReadAll(r.Body)
		if r.ContentLength >= 0 && int64(len(body)) != r.ContentLength {
			t.Errorf("Content-Length %d, body %d bytes", r.ContentLength, len(body))
		}
		_ = json.NewEncoder(w).Encode(echoed{id, uid, r.URL.RawQuery, string(body), r.Header.Get("Authorization")})
	}))
	t.Cleanup(h.gateway.Close)
	h.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.callbacks = append(h.callbacks, r.URL.Query())
		h.mu.Unlock()
		_, _ = io.WriteString(w, "app callback")
	}))
	t.Cleanup(h.app.Close)
	return h
}

func (h *harness) clock() time.Time { return time.Now().Add(time.Duration(h.now.Load()) * time.Second) }

func (h *harness) config(key, secret string) *dghubble.Config {
	return &dghubble.Config{
		ConsumerKey:    key,
		ConsumerSecret: secret,
		CallbackURL:    h.app.URL + "/callback?keep=1",
		Endpoint: dghubble.Endpoint{
			RequestTokenURL: h.gateway.URL + "/oauth/request_token",
			AuthorizeURL:    h.gateway.URL + "/oauth/authorize",
			AccessTokenURL:  h.gateway.URL + "/oauth/access_token",
		},
	}
}

// browse follows redirects like a browser with cookies and returns the
// final response's status and body.
func (h *harness) browse(u string) (int, string) {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// connect runs the whole OAuth 1.0a dance with the third-party client and
// returns the token credentials.
func (h *harness) connect(cfg *dghubble.Config) *dghubble.Token {
	h.t.Helper()
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		h.t.Fatalf("request token: %v", err)
	}
	au, err := cfg.AuthorizationURL(rt)
	if err != nil {
		h.t.Fatal(err)
	}
	if status, body := h.browse(au.String()); status != 200 || body != "app callback" {
		h.t.Fatalf("authorize ended with %d %q", status, body)
	}
	h.mu.Lock()
	cb := h.callbacks[len(h.callbacks)-1]
	h.mu.Unlock()
	if cb.Get("oauth_token") != rt || cb.Get("oauth_verifier") == "" || cb.Get("keep") != "1" {
		h.t.Fatalf("callback query %v", cb)
	}
	at, as, err := cfg.AccessToken(rt, rs, cb.Get("oauth_verifier"))
	if err != nil {
		h.t.Fatalf("access token: %v", err)
	}
	return dghubble.NewToken(at, as)
}

func decodeEcho(t testing.TB, resp *http.Response) echoed {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var e echoed
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return e
}

// wantOAuthError checks a Fitbit OAuth 1.0a error answer.
func wantOAuthError(t *testing.T, resp *http.Response, status int, field string) apierror.Item {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	it, ok := apierror.Parse(b)
	if !ok || it.ErrorType != "oauth" || it.FieldName != field {
		t.Fatalf("error %+v (%s), want errorType oauth fieldName %s", it, b, field)
	}
	if status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "OAuth ") {
		t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	return it
}

func TestFullFlowWithThirdPartyClient(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	tok := h.connect(cfg)
	client := cfg.Client(context.Background(), tok)

	// A signed GET: verified, the identity is the connected one, and no
	// OAuth parameter goes on.
	resp, err := client.Get(h.gateway.URL + "/1/user/-/profile.json?a=b%20c&z=1")
	if err != nil {
		t.Fatal(err)
	}
	e := decodeEcho(t, resp)
	if !strings.HasPrefix(e.Identity, "oauth1:") || e.UserID != "ABC1" {
		t.Fatalf("identity %q user %q", e.Identity, e.UserID)
	}
	if e.Query != "a=b%20c&z=1" || e.Authorization != "" {
		t.Fatalf("query %q authorization %q", e.Query, e.Authorization)
	}

	// A signed form POST: the body parameters are in the signature, and the
	// body goes on byte for byte.
	resp, err = client.PostForm(h.gateway.URL+"/1/user/-/body/log/weight.json", url.Values{"weight": {"73.5"}, "date": {"2015-06-01"}})
	if err != nil {
		t.Fatal(err)
	}
	if e2 := decodeEcho(t, resp); e2.Body != "date=2015-06-01&weight=73.5" || e2.Identity != e.Identity {
		t.Fatalf("POST echoed %+v", e2)
	}

	// A second app user gets a different identity; this app's library sends
	// the browser to /oauth/authenticate ("Sign in with Fitbit").
	cfg.Endpoint.AuthorizeURL = h.gateway.URL + "/oauth/authenticate"
	tok2 := h.connect(cfg)
	resp, err = cfg.Client(context.Background(), tok2).Get(h.gateway.URL + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if e3 := decodeEcho(t, resp); e3.Identity == e.Identity || e3.UserID != "ABC2" {
		t.Fatalf("second user %+v", e3)
	}
	if h.conn.begun != 2 {
		t.Fatalf("connect flow begun %d times, want 2", h.conn.begun)
	}
}

func TestAccessTokenAnswerCarriesEncodedUserID(t *testing.T) {
	h := newHarness(t)
	var last []byte
	cfg := h.config(consumerKey, consumerSecret)
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			last, _ = io.ReadAll(resp.Body)
			resp.Body = io.NopCloser(bytes.NewReader(last))
		}
		return resp, err
	})}
	h.connect(cfg)
	v, err := url.ParseQuery(string(last))
	if err != nil || v.Get("encoded_user_id") != "ABC1" || v.Get("oauth_token") == "" || v.Get("oauth_token_secret") == "" {
		t.Fatalf("access token answer %q", last)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRejections(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	tok := h.connect(cfg)
	profile := h.gateway.URL + "/1/user/-/profile.json"

	t.Run("unknown consumer", func(t *testing.T) {
		resp, err := h.config("nobody", consumerSecret).Client(context.Background(), tok).Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 401, "oauth_consumer_key")
	})
	t.Run("bad signature", func(t *testing.T) {
		resp, err := h.config(consumerKey, "not-the-secret").Client(context.Background(), tok).Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 401, "oauth_signature")
	})
	t.Run("bad token secret", func(t *testing.T) {
		resp, err := cfg.Client(context.Background(), dghubble.NewToken(tok.Token, "wrong")).Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 401, "oauth_signature")
	})
	t.Run("unknown access token", func(t *testing.T) {
		resp, err := cfg.Client(context.Background(), dghubble.NewToken("0123456789abcdef", tok.TokenSecret)).Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 401, "oauth_access_token")
	})
	t.Run("reused nonce", func(t *testing.T) {
		// Capture one signed request and send it twice, as an attacker
		// replaying it would.
		var header string
		capture := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			header = r.Header.Get("Authorization")
			return http.DefaultTransport.RoundTrip(r)
		})}
		resp, err := cfg.Client(context.WithValue(context.Background(), dghubble.HTTPClient, capture), tok).Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		decodeEcho(t, resp)
		req, _ := http.NewRequest("GET", profile, nil)
		req.Header.Set("Authorization", header)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 401, "oauth_nonce")
	})
	t.Run("stale timestamp", func(t *testing.T) {
		h.now.Store(-6 * 60) // the server is six minutes behind the client
		defer h.now.Store(0)
		resp, err := cfg.Client(context.Background(), tok).Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		it := wantOAuthError(t, resp, 401, "oauth_timestamp")
		if !strings.HasPrefix(it.Message, "oauth_acceptable_timestamps=") {
			t.Fatalf("message %q", it.Message)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		resp, err := http.Get(profile)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 401, "n/a")
	})
	t.Run("PLAINTEXT over plain HTTP", func(t *testing.T) {
		req, _ := http.NewRequest("GET", profile, nil)
		req.Header.Set("Authorization", `OAuth oauth_consumer_key="`+consumerKey+`", oauth_token="`+tok.Token+
			`", oauth_signature_method="PLAINTEXT", oauth_signature="`+oauth1.Encode(oauth1.Encode(consumerSecret)+"&"+oauth1.Encode(tok.TokenSecret))+`"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, resp, 400, "oauth_signature")
	})
	t.Run("no secret in any answer", func(t *testing.T) {
		resp, _ := cfg.Client(context.Background(), dghubble.NewToken(tok.Token, "wrong")).Get(profile)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte(tok.Token)) || bytes.Contains(b, []byte(tok.TokenSecret)) || bytes.Contains(b, []byte(consumerSecret)) {
			t.Fatalf("answer leaks a credential: %s", b)
		}
	})
}

func TestQueryAndBodySignedParameters(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	tok := h.connect(cfg)

	// Some clients put the protocol parameters in the query or the form
	// body instead of the header; they are verified the same way and
	// removed before the request goes on.
	sign := func(method, rawURL string, form url.Values, nonce string) url.Values {
		p := url.Values{
			"oauth_consumer_key":     {consumerKey},
			"oauth_token":            {tok.Token},
			"oauth_signature_method": {"HMAC-SHA1"},
			"oauth_timestamp":        {strconv.FormatInt(time.Now().Unix(), 10)},
			"oauth_nonce":            {nonce},
			"oauth_version":          {"1.0"},
		}
		u, _ := url.Parse(rawURL)
		all := url.Values{}
		for k, v := range u.Query() {
			all[k] = v
		}
		for k, v := range form {
			all[k] = v
		}
		for k, v := range p {
			all[k] = v
		}
		sig, err := oauth1.Sign(oauth1.HMACSHA1, oauth1.BaseString(method, u, all), consumerSecret, tok.TokenSecret)
		if err != nil {
			t.Fatal(err)
		}
		p.Set("oauth_signature", sig)
		return p
	}

	u := h.gateway.URL + "/1/user/-/activities/date/2015-06-01.json?x=%2B1"
	p := sign("GET", u, nil, "query-nonce")
	resp, err := http.Get(u + "&" + p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeEcho(t, resp); e.Query != "x=%2B1" || e.UserID != "ABC1" {
		t.Fatalf("query-signed GET echoed %+v", e)
	}

	u = h.gateway.URL + "/1/user/-/body/log/weight.json"
	form := url.Values{"weight": {"73.5"}}
	p = sign("POST", u, form, "body-nonce")
	body := "weight=73.5&" + p.Encode()
	resp, err = http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeEcho(t, resp); e.Body != "weight=73.5" {
		t.Fatalf("body-signed POST echoed %+v", e)
	}
}

func TestRequestTokenIsSingleUseAndExpires(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)

	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	au, _ := cfg.AuthorizationURL(rt)
	h.browse(au.String())
	verifier := h.callbacks[len(h.callbacks)-1].Get("oauth_verifier")

	// A wrong verifier is refused and does not use the token up.
	if _, _, err := cfg.AccessToken(rt, rs, "wrong"); err == nil || !strings.Contains(err.Error(), "oauth_verifier") {
		t.Fatalf("wrong verifier: %v", err)
	}
	// Of concurrent exchanges exactly one gets credentials.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, _, err := cfg.AccessToken(rt, rs, verifier); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d exchanges of one request token succeeded, want 1", wins.Load())
	}
	// Used: refused, and the authorize link is dead too.
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err == nil || !strings.Contains(err.Error(), "oauth_access_token") {
		t.Fatalf("second exchange: %v", err)
	}
	if status, _ := h.browse(au.String()); status != 400 {
		t.Fatalf("authorize after use: %d", status)
	}

	// A request token older than ten minutes is gone.
	rt, rs, err = cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	au, _ = cfg.AuthorizationURL(rt)
	h.browse(au.String())
	verifier = h.callbacks[len(h.callbacks)-1].Get("oauth_verifier")
	h.now.Store(11 * 60)
	defer h.now.Store(0)
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("expired request token: %v", err)
	}
}

func TestAccessTokenBeforeConsentIsRefused(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	// The verifier is not known to the app before consent; even a guessed
	// right one (read from the store here) must not work unconnected.
	h.conn.refuse = true
	au, _ := cfg.AuthorizationURL(rt)
	if _, body := h.browse(au.String()); !strings.Contains(body, "consent refused") {
		t.Fatalf("authorize: %q", body)
	}
	if _, _, err := cfg.AccessToken(rt, rs, "anything"); err == nil {
		t.Fatal("access token without consent")
	}
}

func TestOutOfBand(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	cfg.CallbackURL = "oob"
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	au, _ := cfg.AuthorizationURL(rt)
	status, body := h.browse(au.String())
	const marker = "Enter this code in the app to finish: "
	i := strings.Index(body, marker)
	if status != 200 || i < 0 {
		t.Fatalf("oob page %d %q", status, body)
	}
	verifier := body[i+len(marker) : i+len(marker)+20]
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err != nil {
		t.Fatalf("oob exchange: %v", err)
	}
}

func TestRequestTokenChecks(t *testing.T) {
	h := newHarness(t)
	for _, cb := range []string{"javascript:alert(1)", "/relative", "http://user:pw@host/", "http://h/#frag"} {
		cfg := h.config(consumerKey, consumerSecret)
		cfg.CallbackURL = cb
		if _, _, err := cfg.RequestToken(); err == nil || !strings.Contains(err.Error(), "oauth_callback") {
			t.Errorf("callback %q: %v", cb, err)
		}
	}
	resp, err := http.Head(h.gateway.URL + "/oauth/request_token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("HEAD request_token: %d", resp.StatusCode)
	}
	// Secrets are sealed at rest: the store holds neither the request
	// token secret nor the identity in the clear.
	cfg := h.config(consumerKey, consumerSecret)
	rt, rs, err := cfg.RequestToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := walkFiles(h.dir, func(b []byte) error {
		if bytes.Contains(b, []byte(rt)) || bytes.Contains(b, []byte(rs)) || bytes.Contains(b, []byte("oauth1:")) {
			return errors.New("a request token, its secret or an identity is stored in the clear")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// walkFiles calls check with the contents of every file under dir.
func walkFiles(dir string, check func([]byte) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return check(b)
	})
}

// signedRequest builds a GET of rawURL signed with the token credentials,
// with the OAuth parameters in the Authorization header.
func signedRequest(t testing.TB, method oauth1.Method, rawURL string, tok *dghubble.Token, nonce string) *http.Request {
	t.Helper()
	p := url.Values{
		"oauth_consumer_key":     {consumerKey},
		"oauth_token":            {tok.Token},
		"oauth_signature_method": {string(method)},
		"oauth_timestamp":        {strconv.FormatInt(time.Now().Unix(), 10)},
		"oauth_nonce":            {nonce},
	}
	if method == oauth1.Plaintext {
		p.Del("oauth_timestamp")
		p.Del("oauth_nonce")
	}
	u, _ := url.Parse(rawURL)
	h, err := oauth1.AuthorizationHeader("GET", u, nil, p, consumerSecret, tok.TokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", rawURL, nil)
	r.Header.Set("Authorization", `OAuth realm="x", `+strings.TrimPrefix(h, "OAuth ")) // a realm is ignored
	return r
}

// TestNonceIsUsedOnceAcrossInstances: two gateway instances over one
// storage, reached under one host name (behind a load balancer). A request
// replayed to the other instance is refused; a fresh one is served there,
// with the access token issued by the first.
func TestNonceIsUsedOnceAcrossInstances(t *testing.T) {
	h := newHarness(t)
	tok := h.connect(h.config(consumerKey, consumerSecret))

	keys, _ := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{9}, tokenstore.KeySize)})
	peer := &legacy.Server{
		Consumers: h.srv.Consumers,
		Entries:   storagestore.New(&certmagic.FileStorage{Path: h.dir}, keys, ""),
		Connector: h.conn,
	}
	peer.Init()
	peerTS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, e := peer.Authenticate(r)
		if e != nil {
			e.Write(w, peer.Realm(r))
			return
		}
		_ = json.NewEncoder(w).Encode(echoed{Identity: id})
	}))
	defer peerTS.Close()

	const public = "http://fitbit-gateway.test/1/user/-/profile.json"
	send := func(base string, r *http.Request) *http.Response {
		t.Helper()
		c := r.Clone(context.Background())
		c.URL, _ = url.Parse(base + "/1/user/-/profile.json")
		c.Host = "fitbit-gateway.test"
		resp, err := http.DefaultClient.Do(c)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	r := signedRequest(t, oauth1.HMACSHA1, public, tok, "once-per-cluster")
	decodeEcho(t, send(h.gateway.URL, r))
	wantOAuthError(t, send(peerTS.URL, r), 401, "oauth_nonce")
	if e := decodeEcho(t, send(peerTS.URL, signedRequest(t, oauth1.HMACSHA256, public, tok, "fresh"))); !strings.HasPrefix(e.Identity, "oauth1:") {
		t.Fatalf("peer: %+v", e)
	}
}

// TestPlaintextOverTLS: PLAINTEXT needs no timestamp or nonce, and is
// accepted over TLS only.
func TestPlaintextOverTLS(t *testing.T) {
	h := newHarness(t)
	tok := h.connect(h.config(consumerKey, consumerSecret))
	tlsTS := httptest.NewTLSServer(h.gateway.Config.Handler)
	defer tlsTS.Close()
	resp, err := tlsTS.Client().Do(signedRequest(t, oauth1.Plaintext, tlsTS.URL+"/1/user/-/profile.json", tok, ""))
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeEcho(t, resp); e.UserID != "ABC1" {
		t.Fatalf("PLAINTEXT over TLS: %+v", e)
	}
	resp, err = http.DefaultClient.Do(signedRequest(t, oauth1.Plaintext, h.gateway.URL+"/1/user/-/profile.json", tok, ""))
	if err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, resp, 400, "oauth_signature")
}

// BenchmarkAuthenticate is one signed call: parse, verify HMAC-SHA1, look
// the access token up (cached) and record the nonce in a file-system store.
// Signing (the client's work) is done before the timer starts.
func BenchmarkAuthenticate(b *testing.B) { benchmarkAuthenticate(b, nil) }

// BenchmarkAuthenticateRedis is the same with the Redis store (a real
// redis-server; skipped without one unless CI is set).
func BenchmarkAuthenticateRedis(b *testing.B) {
	keys, _ := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{9}, tokenstore.KeySize)})
	st, err := redisstore.New(redisstore.Options{Addr: redistest.Start(b)}, keys)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchmarkAuthenticate(b, st)
}

func benchmarkAuthenticate(b *testing.B, entries tokenstore.Entries) {
	h := newHarness(b)
	if entries != nil {
		h.srv.Entries = entries
	}
	tok := h.connect(h.config(consumerKey, consumerSecret))
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = signedRequest(b, oauth1.HMACSHA1, h.gateway.URL+"/1/user/-/profile.json?period=1d", tok, "bench-"+strconv.Itoa(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, e := h.srv.Authenticate(reqs[i]); e != nil {
			b.Fatal(e)
		}
	}
}

// TestRegisteredCallback: an OAuth 1.0 client that names no callback is sent
// to the consumer's registered one; with none registered, out of band.
func TestRegisteredCallback(t *testing.T) {
	h := newHarness(t)
	h.srv.Consumers["registered"] = legacy.Consumer{Key: "registered", Secret: consumerSecret, Callback: h.app.URL + "/registered?x=1"}
	for _, c := range []struct{ key, wantPath string }{{"registered", "/registered"}, {consumerKey, ""}} {
		cfg := h.config(c.key, consumerSecret)
		cfg.CallbackURL = "" // sent as an empty oauth_callback
		rt, rs, err := cfg.RequestToken()
		if err != nil {
			t.Fatal(err)
		}
		au, _ := cfg.AuthorizationURL(rt)
		status, body := h.browse(au.String())
		if c.wantPath == "" {
			if status != 200 || !strings.Contains(body, "Enter this code in the app") {
				t.Fatalf("%s: want the out-of-band page, got %d %q", c.key, status, body)
			}
			continue
		}
		h.mu.Lock()
		cb := h.callbacks[len(h.callbacks)-1]
		h.mu.Unlock()
		if body != "app callback" || cb.Get("x") != "1" || cb.Get("oauth_token") != rt {
			t.Fatalf("%s: %q %v", c.key, body, cb)
		}
		if _, _, err := cfg.AccessToken(rt, rs, cb.Get("oauth_verifier")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPublicURL: behind a proxy that terminates TLS, apps sign against the
// public https URL; the gateway verifies against public_url, not against
// how the request reached it.
func TestPublicURL(t *testing.T) {
	h := newHarness(t)
	tok := h.connect(h.config(consumerKey, consumerSecret))
	h.srv.PublicURL, _ = url.Parse("https://api.example.com")
	r := signedRequest(t, oauth1.HMACSHA1, "https://api.example.com/1/user/-/profile.json?a=1", tok, "behind-a-proxy")
	r.URL, _ = url.Parse(h.gateway.URL + "/1/user/-/profile.json?a=1")
	r.Host = ""
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeEcho(t, resp); e.UserID != "ABC1" || e.Query != "a=1" {
		t.Fatalf("%+v", e)
	}
	// Signed against the address the gateway happens to listen on: refused.
	resp, err = http.DefaultClient.Do(signedRequest(t, oauth1.HMACSHA1, h.gateway.URL+"/1/user/-/profile.json", tok, "internal-address"))
	if err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, resp, 401, "oauth_signature")
}
