// Package e2e runs the gateway end to end: real Caddy in-process (caddytest)
// with the plugin, configured from a Caddyfile, in front of the simulated
// Fitbit on loopback. Caddy is a process-wide singleton, so these tests run
// one after another and each loads its own config.
package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-fitbit/caddy-fitbit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
)

// gateway is where caddytest's Caddy serves the site.
const gateway = "http://localhost:9080"

// Users of the basic_auth in front of the gateway; the user name is the
// identity the gateway stores connections under.
var passwords = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

var hashes = func() map[string]string {
	m := map[string]string{}
	for u, p := range passwords {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		m[u] = base64.StdEncoding.EncodeToString(h)
	}
	return m
}()

// env is one gateway in front of one simulated Fitbit.
type env struct {
	t   *testing.T
	sim *fitbitsim.Server
	dir string // storage root and log file
	key string
	tc  *caddytest.Tester
	// Fitbit user of each identity, as the simulator's consent assigned it.
	fitbitUser map[string]string
}

// options shape the config.
type options struct {
	FitbitExtra string // more lines in the fitbit global option
	ProxyExtra  string // more lines in fitbit_proxy's block
	SiteExtra   string // more directives in the site
	TokenURL    string // override of the simulator's token URL
	Site        string // replaces the site's body (basic_auth, fitbit_auth, fitbit_proxy)
	Fitbit      string // replaces the fitbit global option's body (no Fitbit registration, say)
	Global      string // more global options (events, say)
}

const caddyfileTmpl = `{
	admin localhost:2999
	persist_config off
	http_port 9080
	https_port 9443
	grace_period 1ns
	skip_install_trust
	{{.Global}}
	storage file_system {{.Dir}}/storage
	log {
		output file {{.Dir}}/caddy.log
		format json
		level DEBUG
	}
	fitbit {
{{- if .Fitbit}}
		{{.Fitbit}}
{{- else}}
		client_id {{.ClientID}}
		client_secret {{.ClientSecret}}
		redirect_uri http://localhost:9080/fitbit/callback
		authorize_url {{.Sim.AuthorizeURL}}
		token_url {{.TokenURL}}
		revoke_url {{.Sim.RevokeURL}}
		api_base {{.Sim.APIBase}}
		encryption_key {{.Key}}
		return_to_allowed /app/ https://app.example.com/
		{{.FitbitExtra}}
{{- end}}
	}
}
http://localhost:9080 {
{{- if .Site}}
	{{.Site}}
{{- else}}
	basic_auth {
		alice {{.Alice}}
		bob {{.Bob}}
	}
	fitbit_auth
	fitbit_proxy {
		{{.ProxyExtra}}
	}
	{{.SiteExtra}}
{{- end}}
}
`

// newEnv starts a simulator and loads a gateway config in front of it.
func newEnv(t *testing.T, opts options) *env {
	t.Helper()
	users := []string{"ALICE1", "BOB222", "CAROL3"}
	next := 0
	sim, err := fitbitsim.Start(fitbitsim.Config{
		RedirectURIs:     []string{gateway + "/fitbit/callback"},
		RateLimitPerHour: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e := &env{t: t, sim: sim, dir: t.TempDir(), key: newKey(), fitbitUser: map[string]string{}}
	// Each consent goes to the next simulated user; connect records which.
	sim.SetConsent(func(*http.Request, []string) fitbitsim.Consent {
		u := users[next%len(users)]
		next++
		return fitbitsim.Consent{UserID: u}
	})
	e.load(opts)
	return e
}

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// caddyfile is the gateway config of opts.
func (e *env) caddyfile(opts options) string {
	e.t.Helper()
	if opts.TokenURL == "" {
		opts.TokenURL = e.sim.TokenURL()
	}
	var buf bytes.Buffer
	err := template.Must(template.New("").Parse(caddyfileTmpl)).Execute(&buf, map[string]any{
		"Dir": e.dir, "Sim": e.sim, "ClientID": e.sim.ClientID(), "ClientSecret": e.sim.ClientSecret(),
		"Key": e.key, "TokenURL": opts.TokenURL, "FitbitExtra": opts.FitbitExtra,
		"ProxyExtra": opts.ProxyExtra, "SiteExtra": opts.SiteExtra, "Site": opts.Site, "Fitbit": opts.Fitbit, "Global": opts.Global,
		"Alice": hashes["alice"], "Bob": hashes["bob"],
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return buf.String()
}

// load (re)loads the gateway config through Caddy's admin API.
func (e *env) load(opts options) {
	e.t.Helper()
	e.tc = caddytest.NewTester(e.t)
	e.tc.InitServer(e.caddyfile(opts), "caddyfile")
	// A new config closes the old servers' connections (grace_period 1ns):
	// drop pooled keep-alive connections so no request goes out on one.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	e.settle()
}

// settle waits until the gateway has answered a few requests in a row on
// the shared transport: a connection the old servers were still closing
// fails a probe, not a test's first request. It measures nothing.
func (e *env) settle() {
	e.t.Helper()
	for ok, tries := 0, 0; ok < 3; tries++ {
		if tries == 200 {
			e.t.Fatal("the gateway does not answer after the config load")
		}
		resp, err := http.Get(gateway + "/.well-known/e2e-probe")
		if err != nil {
			e.t.Logf("settling after the config load: %v", err)
			ok = 0
			time.Sleep(10 * time.Millisecond)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ok++
	}
}

// browser is a user agent: a cookie jar and the user's gateway credentials,
// sent to the gateway only (never to the simulated Fitbit).
func (e *env) browser(user string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: &basicAuth{user: user, pass: passwords[user]}}
}

type basicAuth struct{ user, pass string }

func (b *basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "localhost:9080" && b.user != "" {
		r = r.Clone(r.Context())
		r.SetBasicAuth(b.user, b.pass)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// connect runs the browser flow for user and returns the final response.
func (e *env) connect(user string) (*http.Response, string) {
	e.t.Helper()
	before := e.sim.Stats().CodeExchanges
	resp, body := e.do(e.browser(user), "GET", "/fitbit/authorize", nil, nil)
	if e.sim.Stats().CodeExchanges == before+1 {
		var st map[string]any
		_, b := e.do(e.browser(user), "GET", "/fitbit/status", nil, nil)
		_ = json.Unmarshal([]byte(b), &st)
		if uid, _ := st["user_id"].(string); uid != "" {
			e.fitbitUser[user] = uid
		}
	}
	return resp, body
}

// mustConnect connects user and fails the test unless it worked.
func (e *env) mustConnect(user string) {
	e.t.Helper()
	resp, body := e.connect(user)
	if resp.StatusCode != 200 || !strings.Contains(body, "Connected") {
		e.t.Fatalf("connect %s: %d %s", user, resp.StatusCode, body)
	}
}

// do sends a request to the gateway and reads the whole answer.
func (e *env) do(c *http.Client, method, path string, body []byte, hdr http.Header) (*http.Response, string) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, gateway+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// app is user's app calling the gateway (basic auth, no cookies).
func (e *env) app(user string) *http.Client {
	return &http.Client{Transport: &basicAuth{user: user, pass: passwords[user]},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get calls the gateway as user's app and decodes a JSON answer.
func (e *env) get(user, path string) (int, map[string]any) {
	e.t.Helper()
	resp, body := e.do(e.app(user), "GET", path, nil, nil)
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		e.t.Fatalf("GET %s as %s: %d, not JSON: %q", path, user, resp.StatusCode, body)
	}
	return resp.StatusCode, m
}

// errorType is the first errorType of a Fitbit envelope.
func errorType(m map[string]any) string {
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	s, _ := first["errorType"].(string)
	return s
}

func errorMessage(m map[string]any) string {
	b, _ := json.Marshal(m)
	it, _ := apierror.Parse(b)
	return it.Message
}

// profileUser is the encodedId in a profile answer.
func profileUser(m map[string]any) string {
	u, _ := m["user"].(map[string]any)
	s, _ := u["encodedId"].(string)
	return s
}

// secretsIn reports which of the simulator's issued secrets appear in the
// files below root (storage, logs).
func secretsIn(t *testing.T, root string, secrets []string) []string {
	t.Helper()
	var found []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		// The gateway keeps running while the tree is read: a lock or
		// temporary file it removes meanwhile is no leak.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) || strings.Contains(p, s) {
				found = append(found, fmt.Sprintf("%s in %s", s[:8]+"…", p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

var _ = url.Values{}
