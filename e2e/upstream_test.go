package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// echoServer stands for a host that is not the provider's API: it answers
// 200 and records the Authorization headers it was sent.
type echoServer struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newEchoServer(t *testing.T) *echoServer {
	s := &echoServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		// A careless upstream: it echoes the credentials it got.
		auth := r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Authorization", auth)
		if r.URL.Path == "/echo/redirect" {
			w.Header().Set("Location", "https://app.example/done?auth="+url.QueryEscape(auth))
			w.WriteHeader(http.StatusFound)
		}
		_, _ = io.WriteString(w, `{"echo":`+strconv.Quote(auth)+`}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *echoServer) hostport() string { u, _ := url.Parse(s.URL); return u.Host }

func (s *echoServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// tryLoad posts a config to Caddy's admin API and returns its error text
// ("" when it loaded).
func tryLoad(t *testing.T, config, contentType string) string {
	t.Helper()
	resp, err := http.Post("http://localhost:2999/load", contentType, strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		return ""
	}
	return string(b)
}

// proxySite is the test site with the proxy given in full.
func proxySite(proxy string) string {
	return fmt.Sprintf(`basic_auth {
		alice %s
	}
	fitbit_auth
	%s`, hashes["alice"], proxy)
}

func TestTransportRefusesForeignUpstreams(t *testing.T) {
	e := newEnv(t, options{})
	echo := newEchoServer(t)
	for name, proxy := range map[string]string{
		"reverse_proxy to another host": `reverse_proxy ` + echo.URL + ` {
		transport fitbit
	}`,
		// Same IP as the simulated API, another port: another service.
		"fitbit_proxy with to": `fitbit_proxy {
		to ` + echo.URL + `
	}`,
		"upstream with a placeholder": `reverse_proxy {http.request.header.X-Upstream} {
		transport fitbit
	}`,
		"dynamic upstreams": `reverse_proxy {
		dynamic a localhost 9
		transport fitbit
	}`,
		"the API host without TLS": strings.Replace(`reverse_proxy API {
		transport fitbit
	}`, "API", e.sim.URL(), 1),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := e.caddyfile(options{Site: proxySite(proxy)})
			if name == "the API host without TLS" {
				cfg = strings.Replace(cfg, "api_base "+e.sim.APIBase(), "api_base "+strings.Replace(e.sim.APIBase(), "http:", "https:", 1), 1)
			}
			msg := tryLoad(t, cfg, "text/caddyfile")
			if msg == "" {
				t.Fatal("the config loaded")
			}
			want := map[string]string{
				"upstream with a placeholder": "holds a placeholder",
				"dynamic upstreams":           "dynamic upstreams",
				"the API host without TLS":    "would travel in clear",
			}[name]
			if want == "" {
				want = "is not the provider's API"
			}
			if !strings.Contains(msg, want) || !strings.Contains(msg, "allow_upstream") && name != "the API host without TLS" {
				t.Fatalf("load error %q does not say %q and how to allow it", msg, want)
			}
		})
	}

	// The same in JSON: an upstream that is not the API base.
	var cfg map[string]any
	if err := json.Unmarshal(adaptCaddyfile(t, e.caddyfile(options{})), &cfg); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cfg)
	foreign := bytes.ReplaceAll(raw, []byte(`"dial":"`+hostOf(e.sim.APIBase())+`"`), []byte(`"dial":"`+echo.hostport()+`"`))
	if bytes.Equal(foreign, raw) {
		t.Fatal("the adapted config names no upstream to replace")
	}
	if msg := tryLoad(t, string(foreign), "application/json"); !strings.Contains(msg, "is not the provider's API") {
		t.Fatalf("JSON with a foreign upstream: %q", msg)
	}
	if got := echo.received(); len(got) != 0 {
		t.Fatalf("the foreign host was sent %d requests", len(got))
	}
	// The gateway still runs its last good config.
	e.settle()
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "not_connected" {
		t.Fatalf("after the refused loads: %d %v", code, m)
	}
}

func TestTransportAllowUpstream(t *testing.T) {
	e := newEnv(t, options{})
	echo := newEchoServer(t)
	e.load(options{Site: proxySite(`@echo path /echo/*
	route {
		reverse_proxy @echo ` + echo.URL + ` {
			transport fitbit {
				allow_upstream ` + echo.hostport() + `
			}
		}
		fitbit_proxy
	}`)})
	e.mustConnect("alice")
	if resp, body := e.do(e.app("alice"), "GET", "/echo/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("allowed upstream: %d %s", resp.StatusCode, body)
	}
	if got := echo.received(); len(got) != 1 || !strings.HasPrefix(got[0], "Bearer ") {
		t.Fatalf("the allowed upstream got %q", got)
	}

	// What it echoes in a 2xx or 3xx — header, Location, body — reaches
	// neither the app nor Caddy's debug log.
	for _, path := range []string{"/echo/x", "/echo/redirect"} {
		resp, body := e.do(e.app("alice"), "GET", path, nil, nil)
		var headers strings.Builder
		_ = resp.Header.Write(&headers)
		for _, s := range e.sim.IssuedSecrets() {
			if strings.Contains(body, s) || strings.Contains(headers.String(), s) {
				t.Fatalf("GET %s: the app got the token back (%d)", path, resp.StatusCode)
			}
		}
		if !strings.Contains(body, "[REDACTED]") || !strings.Contains(resp.Header.Get("X-Echo-Authorization"), "[REDACTED]") {
			t.Fatalf("GET %s: %d %q %q", path, resp.StatusCode, resp.Header, body)
		}
	}
	if found := secretsIn(t, filepath.Join(e.dir, "caddy.log"), e.sim.IssuedSecrets()); len(found) > 0 {
		t.Fatalf("Caddy's log holds tokens: %v", found)
	}
}

// Dynamic upstreams are checked per request: the token goes only to the
// hosts allow_upstream names (and the API base); anywhere else is 502.
func TestTransportChecksEachRequestsUpstream(t *testing.T) {
	e := newEnv(t, options{})
	echo := newEchoServer(t)
	e.load(options{Site: proxySite(`reverse_proxy {http.request.header.X-Upstream} {
		transport fitbit {
			allow_upstream ` + hostOf(e.sim.APIBase()) + `
		}
	}`)})
	e.mustConnect("alice")
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 502 {
		t.Fatalf("no upstream header: %d %v", code, m)
	}
	to := func(hostport string) http.Header { return http.Header{"X-Upstream": {hostport}} }
	resp, body := e.do(e.app("alice"), "GET", "/1/user/-/profile.json", nil, to(echo.hostport()))
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	if resp.StatusCode != 502 || errorType(m) != "upstream_not_allowed" {
		t.Fatalf("to a host not allowed: %d %s", resp.StatusCode, body)
	}
	if got := echo.received(); len(got) != 0 {
		t.Fatalf("the host not allowed got %q", got)
	}
	if resp, body := e.do(e.app("alice"), "GET", "/1/user/-/profile.json", nil, to(hostOf(e.sim.APIBase()))); resp.StatusCode != 200 {
		t.Fatalf("to the API: %d %s", resp.StatusCode, body)
	}
}

// A reverse_proxy with the fitbit transport and no upstream goes to the
// API base.
func TestTransportWithoutUpstreamUsesAPIBase(t *testing.T) {
	e := newEnv(t, options{})
	e.load(options{Site: proxySite(`reverse_proxy {
		transport fitbit
	}`)})
	e.mustConnect("alice")
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("no upstream: %d %v", code, m)
	}
}

func hostOf(base string) string { u, _ := url.Parse(base); return u.Host }

// adaptCaddyfile adapts a Caddyfile to JSON, as `caddy adapt` does.
func adaptCaddyfile(t *testing.T, cfg string) []byte {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A configured fitbit app that fails to provision is reported as itself,
// not as a missing global option, whichever module loads it first.
func TestBadEncryptionKeyIsNotReportedAsMissingApp(t *testing.T) {
	e := newEnv(t, options{})
	cfg := e.caddyfile(options{})
	bad := regexp.MustCompile(`encryption_key \S+`).ReplaceAllString(cfg, "encryption_key not-a-key")
	if bad == cfg {
		t.Fatal("the config names no encryption_key to replace")
	}
	// Caddy provisions apps in map order, so the http app (and with it the
	// fitbit transport, which loads the fitbit app) comes first in about
	// half of the loads: try enough of them to see both orders.
	for range 12 {
		msg := loadRefused(t, bad)
		if !strings.Contains(msg, "encryption_keys") || strings.Contains(msg, "not configured") {
			t.Fatalf("load error %q: want the key's own error, not a missing app", msg)
		}
	}
}

// loadRefused posts a config that must fail to load and returns Caddy's
// error. After a failed load Caddy's admin endpoint may reset the next
// connection while it settles, so a transport error is retried (bounded).
func loadRefused(t *testing.T, config string) string {
	t.Helper()
	for try := 0; ; try++ {
		resp, err := http.Post("http://localhost:2999/load", "text/caddyfile", strings.NewReader(config))
		if err != nil {
			if try == 50 {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the config loaded")
		}
		return string(b)
	}
}
