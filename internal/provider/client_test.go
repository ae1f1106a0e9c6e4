package provider

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
)

const testRedirect = "https://gw.example/fitbit/callback"

// startSim starts a simulated Fitbit registered for testRedirect.
func startSim(t *testing.T, cfg fitbitsim.Config) *fitbitsim.Server {
	t.Helper()
	cfg.RedirectURIs = []string{testRedirect}
	sim, err := fitbitsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// simRegistration is a registration pointing at sim, for its app type.
func simRegistration(sim *fitbitsim.Server) Registration {
	r := Registration{
		ClientID:    sim.ClientID(),
		AppType:     AppType(sim.Config().AppType),
		RedirectURL: testRedirect,
		Endpoints: Endpoints{
			AuthURL: sim.AuthorizeURL(), TokenURL: sim.TokenURL(),
			RevokeURL: sim.RevokeURL(), APIBase: sim.APIBase(),
		},
	}
	if r.AppType == AppServer {
		r.ClientSecret = sim.ClientSecret()
	}
	return r.WithDefaults(Fitbit)
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// authorize drives the simulator's consent page and returns the code.
func authorize(t *testing.T, c *Client, state, verifier string) string {
	t.Helper()
	resp, err := noRedirect.Get(c.AuthCodeURL(state, verifier, nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("state") != state {
		t.Fatalf("state %q, want %q", q.Get("state"), state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in %s", loc)
	}
	return q.Get("code")
}

// secretsIn returns the issued secrets that appear in s.
func secretsIn(sim *fitbitsim.Server, s string) []string {
	var found []string
	for _, sec := range sim.IssuedSecrets() {
		if strings.Contains(s, sec) {
			found = append(found, sec)
		}
	}
	return found
}

// tokenRequests records what reached the token endpoint, then forwards to sim.
type tokenRequests struct {
	mu   sync.Mutex
	reqs []recordedTokenRequest
}

type recordedTokenRequest struct {
	basicUser, basicPass string
	hasBasic             bool
	form                 url.Values
}

func (tr *tokenRequests) proxy(t *testing.T, sim *fitbitsim.Server) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		u, p, ok := r.BasicAuth()
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, recordedTokenRequest{u, p, ok, form})
		tr.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientFlowAgainstSimulator(t *testing.T) {
	for _, appType := range []fitbitsim.AppType{fitbitsim.ServerApp, fitbitsim.ClientApp, fitbitsim.PersonalApp} {
		t.Run(string(appType), func(t *testing.T) {
			sim := startSim(t, fitbitsim.Config{AppType: appType, GraceWindow: -1})
			var seen tokenRequests
			front := seen.proxy(t, sim)
			reg := simRegistration(sim)
			reg.Endpoints.TokenURL = front.URL + "/oauth2/token"
			reg.Endpoints.RevokeURL = front.URL + "/oauth2/revoke"
			if err := reg.Validate(); err != nil {
				t.Fatal(err)
			}
			c := NewClient(reg, nil)
			ctx := context.Background()

			// The consent URL carries every parameter and the S256 challenge.
			verifier := NewVerifier()
			if len(verifier) < 43 || len(verifier) > 128 {
				t.Fatalf("verifier length %d", len(verifier))
			}
			if NewVerifier() == verifier {
				t.Fatal("verifiers repeat")
			}
			u, err := url.Parse(c.AuthCodeURL("st4te", verifier, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != sim.AuthorizeURL() {
				t.Fatalf("authorize URL %s", got)
			}
			q := u.Query()
			want := map[string]string{
				"client_id":             sim.ClientID(),
				"response_type":         "code",
				"redirect_uri":          testRedirect,
				"scope":                 "activity heartrate profile sleep",
				"state":                 "st4te",
				"code_challenge":        oauth2.S256ChallengeFromVerifier(verifier),
				"code_challenge_method": "S256",
			}
			for k, v := range want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if strings.Contains(u.String(), verifier) {
				t.Error("the verifier itself is in the consent URL")
			}

			// Exchange.
			code := authorize(t, c, "st4te", verifier)
			g, err := c.Exchange(ctx, code, verifier)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if g.AccessToken == "" || g.RefreshToken == "" || g.TokenType != "Bearer" || g.UserID != fitbitsim.DefaultUserID {
				t.Fatalf("grant %+v", g)
			}
			if strings.Join(g.Scopes, " ") != "activity heartrate profile sleep" {
				t.Fatalf("scopes %v", g.Scopes)
			}
			if d := time.Until(g.Expiry); d < 7*time.Hour || d > 8*time.Hour+time.Minute {
				t.Fatalf("expiry in %v", d)
			}
			// A code is single-use: the second exchange is invalid_grant.
			if _, err := c.Exchange(ctx, code, verifier); !IsInvalidGrant(err) {
				t.Fatalf("second exchange: %v", err)
			} else if leaked := secretsIn(sim, err.Error()); len(leaked) > 0 {
				t.Fatalf("error %q holds secrets %v", err, leaked)
			}

			// Refresh rotates.
			g2, err := c.Refresh(ctx, g.RefreshToken)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if g2.RefreshToken == g.RefreshToken || g2.AccessToken == g.AccessToken || g2.RefreshToken == "" {
				t.Fatal("refresh did not rotate the pair")
			}
			if g2.UserID != fitbitsim.DefaultUserID || len(g2.Scopes) != 4 {
				t.Fatalf("refreshed grant %+v", g2)
			}

			// The rotated token is dead (grace disabled): invalid_grant, no token in the error.
			_, err = c.Refresh(ctx, g.RefreshToken)
			if !IsInvalidGrant(err) || IsTransient(err) {
				t.Fatalf("reused refresh token: %v", err)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Status != http.StatusBadRequest || te.Code != "invalid_grant" {
				t.Fatalf("TokenError %+v", te)
			}
			if leaked := secretsIn(sim, err.Error()); len(leaked) > 0 {
				t.Fatalf("error %q holds secrets", err)
			}
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("error %q: expected the token to be replaced by [REDACTED]", err)
			}
			if st := sim.Stats(); st.RefreshReuseRejected != 1 || st.Refreshes != 1 {
				t.Fatalf("stats %+v", st)
			}

			// Revoke, then the refresh token is dead; an unknown token counts as revoked.
			if err := c.Revoke(ctx, g2.RefreshToken); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if sim.Stats().Revocations != 1 {
				t.Fatal("revoke did not reach the provider")
			}
			if _, err := c.Refresh(ctx, g2.RefreshToken); !IsInvalidGrant(err) {
				t.Fatalf("refresh after revoke: %v", err)
			}
			if err := c.Revoke(ctx, g2.RefreshToken); err != nil {
				t.Fatalf("revoke of an already revoked token: %v", err)
			}
			if err := c.Revoke(ctx, strings.Repeat("ab", 32)); err != nil {
				t.Fatalf("revoke of an unknown token: %v", err)
			}

			// Client authentication by app type, at every token/revoke request.
			seen.mu.Lock()
			defer seen.mu.Unlock()
			if len(seen.reqs) < 6 {
				t.Fatalf("only %d token requests seen", len(seen.reqs))
			}
			for i, r := range seen.reqs {
				if appType == fitbitsim.ServerApp {
					if !r.hasBasic || r.basicUser != sim.ClientID() || r.basicPass != sim.ClientSecret() {
						t.Errorf("request %d: server app without Basic client auth", i)
					}
					if r.form.Has("client_secret") {
						t.Errorf("request %d: secret in the body", i)
					}
				} else {
					if r.hasBasic {
						t.Errorf("request %d: %s app sent a Basic header", i, appType)
					}
					if r.form.Get("client_id") != sim.ClientID() || r.form.Has("client_secret") {
						t.Errorf("request %d: body %v", i, r.form)
					}
				}
			}
		})
	}
}

func TestRefreshWithinGraceWindowReplays(t *testing.T) {
	sim := startSim(t, fitbitsim.Config{})
	c := NewClient(simRegistration(sim), nil)
	tr := sim.MintTokens("")
	g1, err := c.Refresh(context.Background(), tr.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := c.Refresh(context.Background(), tr.RefreshToken)
	if err != nil {
		t.Fatalf("identical refresh within the grace window: %v", err)
	}
	if g1.RefreshToken != g2.RefreshToken || g1.AccessToken != g2.AccessToken {
		t.Fatal("grace replay returned a different pair")
	}
}

func TestClientAppWithWrongClientIDIsNotInvalidGrant(t *testing.T) {
	sim := startSim(t, fitbitsim.Config{AppType: fitbitsim.ClientApp})
	reg := simRegistration(sim)
	reg.ClientID = "WRONG1"
	tr := sim.MintTokens("")
	_, err := NewClient(reg, nil).Refresh(context.Background(), tr.RefreshToken)
	var te *TokenError
	if !errors.As(err, &te) || te.Status != 401 || te.Code != "invalid_client" {
		t.Fatalf("err %v", err)
	}
	if IsInvalidGrant(err) || IsTransient(err) {
		t.Fatal("invalid_client must neither drop the connection nor be retried")
	}
}

// regAt is a server-app registration whose token and revoke endpoints are base.
func regAt(base string) Registration {
	return Registration{
		ClientID: "23ABCD", ClientSecret: "s", RedirectURL: testRedirect,
		Endpoints: Endpoints{TokenURL: base + "/oauth2/token", RevokeURL: base + "/oauth2/revoke"},
	}.WithDefaults(Fitbit)
}

func TestTransientFailures(t *testing.T) {
	ctx := context.Background()
	const rt = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	t.Run("closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := NewClient(regAt("http://"+addr), nil)
		_, err = c.Refresh(ctx, rt)
		var te *TokenError
		if !errors.As(err, &te) || !te.Transient || te.Timeout || te.Status != 0 || IsInvalidGrant(err) {
			t.Fatalf("err %#v", err)
		}
		if !strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), rt) {
			t.Fatalf("message %q", err)
		}
		if err := c.Revoke(ctx, rt); !IsTransient(err) || strings.Contains(err.Error(), rt) {
			t.Fatalf("revoke: %v", err)
		}
	})

	for _, status := range []int{500, 502, 503, 429} {
		t.Run("status "+strconv.Itoa(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, "<html>Service Unavailable</html>")
			}))
			defer srv.Close()
			c := NewClient(regAt(srv.URL), nil)
			_, err := c.Refresh(ctx, rt)
			var te *TokenError
			if !errors.As(err, &te) || !te.Transient || te.Status != status || te.Timeout {
				t.Fatalf("err %#v", err)
			}
			if err := c.Revoke(ctx, rt); !IsTransient(err) {
				t.Fatalf("revoke: %v", err)
			}
		})
	}

	t.Run("hang", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		c := NewClient(regAt(srv.URL), &http.Client{Timeout: 50 * time.Millisecond})
		_, err := c.Refresh(ctx, rt)
		var te *TokenError
		if !errors.As(err, &te) || !te.Transient || !te.Timeout || te.Status != 0 {
			t.Fatalf("err %#v", err)
		}
		if !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("message %q", err)
		}
		// A context deadline counts as a timeout as well.
		c = NewClient(regAt(srv.URL), nil)
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := c.Refresh(dctx, rt); !errors.As(err, &te) || !te.Timeout || !te.Transient {
			t.Fatalf("deadline: %#v", err)
		}
		// A canceled caller is not worth retrying.
		cctx, cancel2 := context.WithCancel(ctx)
		cancel2()
		if _, err := c.Refresh(cctx, rt); !errors.As(err, &te) || te.Transient {
			t.Fatalf("canceled: %#v", err)
		}
	})
}

func TestGarbageFromTokenEndpoint(t *testing.T) {
	const rt = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	huge := bytes.Repeat([]byte("A"), 8<<20)
	cases := map[string]struct {
		status int
		ctype  string
		body   []byte
	}{
		"garbage json":      {200, "application/json", []byte(`{"access_token": "x", "expires_in": "soon"`)},
		"not json":          {200, "application/json", []byte("<html>hello</html>")},
		"huge":              {200, "application/json", huge},
		"huge error":        {400, "application/json", huge},
		"no access token":   {200, "application/json", []byte(`{"refresh_token":"` + rt + `"}`)},
		"form garbage":      {200, "application/x-www-form-urlencoded", []byte("%zz=%%")},
		"empty":             {200, "", nil},
		"null":              {200, "application/json", []byte("null")},
		"wrong types":       {200, "application/json", []byte(`{"access_token":1,"refresh_token":[],"expires_in":{}}`)},
		"error with token":  {400, "application/json", []byte(`{"error":"invalid_grant","error_description":"Refresh token invalid: ` + rt + `"}`)},
		"fitbit envelope":   {400, "application/json;charset=UTF-8", []byte(`{"errors":[{"errorType":"invalid_grant","message":"Refresh token invalid: ` + rt + `. Visit https://dev.fitbit.com/docs/oauth2"}],"success":false}`)},
		"200 with an error": {200, "application/json", []byte(`{"error":"invalid_grant"}`)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			}))
			defer srv.Close()
			g, err := NewClient(regAt(srv.URL), nil).Refresh(context.Background(), rt)
			if err == nil {
				t.Fatalf("no error, grant %+v", g)
			}
			if strings.Contains(err.Error(), rt) {
				t.Fatalf("refresh token in error %q", err)
			}
			if len(err.Error()) > 4096 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

// fakeRT answers every request with a canned response.
type fakeRT func(*http.Request) (*http.Response, error)

func (f fakeRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzTokenError feeds arbitrary token-endpoint answers (with the refresh
// token that was sent spliced in wherever the body says {T}) through Refresh
// and Revoke: no panic, and the refresh token never appears in the error.
func FuzzTokenError(f *testing.F) {
	const rt = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	f.Add(400, "application/json", []byte(`{"errors":[{"errorType":"invalid_grant","message":"Refresh token invalid: {T}. Visit https://dev.fitbit.com/docs/oauth2"}],"success":false}`))
	f.Add(401, "application/json", []byte(`{"errors":[{"errorType":"invalid_client","message":"Invalid authorization header. Client id invalid."}],"success":false}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"bad token {T}"}`))
	f.Add(400, "application/json", []byte(`{"error":"{T}"}`))
	f.Add(200, "application/json", []byte(`{"error":"x{T}"}`))
	f.Add(400, "application/json", []byte(`{"errors":[{"errorType":"{T}","message":"m"}]}`))
	f.Add(429, "text/plain", []byte("error={T}&error_description={T}"))
	f.Add(200, "application/x-www-form-urlencoded", []byte("error=invalid_grant&error_description=token+invalid:+{T}"))
	f.Add(200, "application/json", []byte(`{"access_token":"a","refresh_token":"b","expires_in":3600}`))
	f.Add(503, "", []byte("{T}"))
	f.Add(400, "application/json", []byte(`{"error":{"code":400,"message":"token {T}","status":"INVALID_ARGUMENT"}}`))
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		if status < 100 || status > 999 {
			status = 100 + (status%900+900)%900
		}
		if status < 200 {
			status += 100 // 1xx are not final answers
		}
		body = bytes.ReplaceAll(body, []byte("{T}"), []byte(rt))
		hc := &http.Client{Transport: fakeRT(func(r *http.Request) (*http.Response, error) {
			if r.Body != nil {
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
			h := http.Header{}
			if ctype != "" {
				h.Set("Content-Type", ctype)
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r, ContentLength: int64(len(body))}, nil
		})}
		c := NewClient(regAt("http://token.invalid"), hc)
		if _, err := c.Refresh(context.Background(), rt); err != nil {
			if strings.Contains(err.Error(), rt) {
				t.Fatalf("refresh token leaked: %q", err)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("not a TokenError: %T", err)
			}
		}
		if err := c.Revoke(context.Background(), rt); err != nil && strings.Contains(err.Error(), rt) {
			t.Fatalf("refresh token leaked by revoke: %q", err)
		}
	})
}
