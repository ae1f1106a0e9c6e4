//go:build unix

// Package legacysinatra_test runs the 2015-style Sinatra app (app.rb, Ruby's
// oauth gem, OAuth 1.0a) against the one-command demo end to end: the demo
// binary (simulated Fitbit + gateway) and `ruby app.rb` are real processes,
// and a cookie-keeping HTTP client is the browser.
//
// Without ruby or the Debian packages the test is skipped with an install
// hint, except when the CI environment variable is non-empty: then it fails,
// since CI (.ci/run) must install them.
package legacysinatra_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// installHint says how to get what the test needs (Debian bookworm).
const installHint = "install them with: apt-get install -y --no-install-recommends ruby ruby-sinatra ruby-oauth ruby-webrick"

// The demo's OAuth 1.0a consumer, which app.rb uses by default.
const (
	consumerKey    = "demo-legacy-app"
	consumerSecret = "demo-legacy-secret"
)

// Deadlines, generous: they only bound a hung step, nothing is timed.
const (
	buildTimeout   = 10 * time.Minute
	startTimeout   = 2 * time.Minute
	requestTimeout = time.Minute
)

func TestLegacySinatraAppAgainstDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo and runs ruby; skipped with -short")
	}
	ruby := needRuby(t)

	ps := &procs{dir: t.TempDir()}
	dataDir := t.TempDir()
	dumpOnFailure(t, ps, dataDir)

	demo := buildDemo(t)
	gw := startDemo(t, ps, demo, dataDir)
	app := startApp(t, ps, ruby, gw, consumerSecret, "app.rb")
	b := newBrowser(t)

	// The home page offers to connect.
	r := b.get(t, app+"/")
	if r.status != http.StatusOK || !strings.Contains(r.body, `href="/login"`) || !strings.Contains(r.body, "Connect your Fitbit") {
		t.Fatalf("GET / = %d, want 200 with a \"Connect your Fitbit\" link to /login:\n%s", r.status, r.body)
	}

	// Connect: request token, the gateway's authorize step (its connect flow
	// with the simulated Fitbit's consent), the app's callback with the
	// verifier, the access token, and the profile.
	r = b.get(t, app+"/login")
	if r.status != http.StatusOK || r.path() != "/profile" {
		t.Fatalf("GET /login ended at %s with %d, want /profile with 200; redirects: %s\n%s", r.url, r.status, r.chain(), r.body)
	}
	for _, want := range []string{gw + "/oauth/authorize", gw + "/fitbit/callback", app + "/callback"} {
		if !r.visited(want) {
			t.Errorf("the sign-in did not pass through %s; redirects: %s", want, r.chain())
		}
	}
	name, user := field(r.body, "display-name"), field(r.body, "encoded-user-id")
	if !regexp.MustCompile(`^[A-Z0-9]+$`).MatchString(user) {
		t.Fatalf("encoded user id on /profile = %q, want a Fitbit user id:\n%s", user, r.body)
	}
	// internal/fitbitsim names its users "Sim user <id>".
	if name != "Sim user "+user {
		t.Errorf("display name on /profile = %q, want %q (the simulated Fitbit's profile of %s)", name, "Sim user "+user, user)
	}

	// A second signed GET: today's activity summary.
	r = b.get(t, app+"/steps")
	if r.status != http.StatusOK {
		t.Fatalf("GET /steps = %d:\n%s", r.status, r.body)
	}
	if n, err := strconv.Atoi(field(r.body, "steps")); err != nil || n <= 0 {
		t.Errorf("steps on /steps = %q, want a positive number:\n%s", field(r.body, "steps"), r.body)
	}
	if strings.Contains(r.body, "Walk, 12:00") {
		t.Fatalf("a walk is listed before it was logged:\n%s", r.body)
	}

	// A signed form POST (the form parameters are part of the signature),
	// then the walk is listed.
	r = b.post(t, app+"/walk")
	if r.status != http.StatusOK || r.path() != "/steps" {
		t.Fatalf("POST /walk ended at %s with %d, want /steps with 200; redirects: %s\n%s", r.url, r.status, r.chain(), r.body)
	}
	if !strings.Contains(r.body, "Walk, 12:00, 30 min") {
		t.Errorf("the logged walk is not listed on /steps:\n%s", r.body)
	}

	// The profile again, with the same access token.
	if r = b.get(t, app+"/profile"); r.status != http.StatusOK || field(r.body, "encoded-user-id") != user {
		t.Errorf("GET /profile again = %d, user %q, want 200 and %q:\n%s", r.status, field(r.body, "encoded-user-id"), user, r.body)
	}

	// The same app with a wrong consumer secret: the gateway's 401 (Fitbit's
	// envelope, naming oauth_signature) is shown on the app's error page.
	t.Run("wrong consumer secret", func(t *testing.T) {
		bad := startApp(t, ps, ruby, gw, "not-the-"+consumerSecret, "app.rb (wrong secret)")
		r := newBrowser(t).get(t, bad+"/login")
		if r.status != http.StatusBadGateway || !strings.Contains(r.body, "401") || !strings.Contains(r.body, "oauth_signature") {
			t.Errorf("GET /login with a wrong consumer secret = %d, want the app's 502 page with the gateway's 401 naming oauth_signature:\n%s", r.status, r.body)
		}
		if r.visited(gw + "/oauth/authorize") {
			t.Errorf("a request token was issued for a wrong signature; redirects: %s", r.chain())
		}
	})
}

// needRuby returns the ruby binary once it can load what app.rb needs, or
// skips the test (fails it when CI is set).
func needRuby(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI is set: CI must provide them; %s", msg, installHint)
		}
		t.Skipf("%s; %s", msg, installHint)
	}
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		missing("ruby not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, ruby, "-e", `require "sinatra/base"; require "oauth"; require "rack/handler/webrick"`).CombinedOutput()
	if err != nil {
		missing("ruby cannot load sinatra, oauth and webrick (%v): %s", err, bytes.TrimSpace(out))
	}
	return ruby
}

// buildDemo builds the demo binary into a temporary directory.
func buildDemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/caddy-fitbit/caddy-fitbit/examples/demo")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	return bin
}

// startDemo runs the demo (no walkthrough) on a free loopback port and

// dumpOnFailure prints, when t fails, the processes' output and the
// gateway's log, redacted. It runs after the processes are stopped
// (cleanups are LIFO).
func dumpOnFailure(t *testing.T, ps *procs, dataDir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range ps.list {
			out, _ := os.ReadFile(p.out.Name())
			t.Logf("---- output of %s ----\n%s", p.name, redact(string(out)))
		}
		if b, err := os.ReadFile(filepath.Join(dataDir, "caddy.log")); err == nil {
			t.Logf("---- gateway's caddy.log (last 8 KiB) ----\n%s", redact(string(tail(b, 8<<10))))
		}
	})
}

// TestLegacySinatraAppOnGoogleHealthOnly: the same app, unchanged but for
// its site URL, against a gateway set up after Fitbit's shutdown, with no
// Fitbit registration (the demo's -google-only): the OAuth 1.0a sign-in runs
// a Google consent, the Fitbit user id it gets is Google's legacyUserId,
// and its Fitbit calls (profile, today's steps, a posted weight) are
// answered from the Google Health API.
func TestLegacySinatraAppOnGoogleHealthOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo and runs ruby; skipped with -short")
	}
	ruby := needRuby(t)
	ps := &procs{dir: t.TempDir()}
	dataDir := t.TempDir()
	dumpOnFailure(t, ps, dataDir)
	gw := startDemo(t, ps, buildDemo(t), dataDir, "-google-only")
	app := startApp(t, ps, ruby, gw, consumerSecret, "app.rb")
	b := newBrowser(t)

	r := b.get(t, app+"/login")
	if r.status != http.StatusOK || r.path() != "/profile" {
		t.Fatalf("GET /login ended at %s with %d, want /profile with 200; redirects: %s\n%s", r.url, r.status, r.chain(), r.body)
	}
	if !r.visited(gw+"/oauth/authorize") || !r.visited(gw+"/fitbit/callback") {
		t.Errorf("the sign-in did not pass through the gateway's authorize step and callback; redirects: %s", r.chain())
	}
	// The demo's Google users carry legacy Fitbit ids DEMO01, DEMO02, …
	if user := field(r.body, "encoded-user-id"); !regexp.MustCompile(`^DEMO\d\d$`).MatchString(user) {
		t.Fatalf("encoded user id on /profile = %q, want Google's legacyUserId:\n%s", user, r.body)
	}
	if r = b.get(t, app+"/steps"); r.status != http.StatusOK {
		t.Fatalf("GET /steps = %d:\n%s", r.status, r.body)
	}
	if n, err := strconv.Atoi(field(r.body, "steps")); err != nil || n < 0 {
		t.Errorf("steps on /steps = %q, want a number:\n%s", field(r.body, "steps"), r.body)
	}
	r = b.post(t, app+"/weight")
	if r.status != http.StatusOK || r.path() != "/weight" {
		t.Fatalf("POST /weight ended at %s with %d, want /weight with 200; redirects: %s\n%s", r.url, r.status, r.chain(), r.body)
	}
	if !strings.Contains(r.body, "07:30:00, 72.5 kg") {
		t.Errorf("the posted weight is not listed on /weight:\n%s", r.body)
	}
}

// returns the gateway's base URL once it answers.
func startDemo(t *testing.T, ps *procs, bin, dataDir string, flags ...string) string {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken meanwhile
		port := freePort(t)
		base := "http://127.0.0.1:" + port
		args := append([]string{"-listen", "127.0.0.1:" + port, "-data", dataDir, "-walkthrough=false"}, flags...)
		p := ps.start(t, "demo", exec.Command(bin, args...))
		if lastErr = p.waitHTTP(base + "/"); lastErr == nil {
			return base
		}
		p.stop()
	}
	t.Fatalf("the demo did not start: %v", lastErr)
	return ""
}

// startApp runs `ruby app.rb` against the gateway gw on a free loopback port
// and returns its base URL once it answers.
func startApp(t *testing.T, ps *procs, ruby, gw, secret, name string) string {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		base := "http://127.0.0.1:" + port
		cmd := exec.Command(ruby, "app.rb", "-p", port, "-o", "127.0.0.1")
		cmd.Env = append(cleanEnv("FITBIT_", "PORT", "SESSION_SECRET", "APP_ENV", "RACK_ENV"),
			"FITBIT_SITE="+gw,
			"FITBIT_CONSUMER_KEY="+consumerKey,
			"FITBIT_CONSUMER_SECRET="+secret,
		)
		p := ps.start(t, name, cmd)
		if lastErr = p.waitHTTP(base + "/"); lastErr == nil {
			return base
		}
		p.stop()
	}
	t.Fatalf("%s did not start: %v", name, lastErr)
	return ""
}

// cleanEnv is this process's environment without the variables that start
// with one of prefixes.
func cleanEnv(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// proc is a child process in its own process group, stopped (the whole
// group) when the test ends.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *os.File      // stdout and stderr
	exited chan struct{} // closed when cmd has exited
	err    error         // cmd.Wait's, once exited is closed
	once   sync.Once
}

// procs are the test's child processes.
type procs struct {
	dir  string // their output files
	list []*proc
}

// start starts cmd, its output going to a file in ps.dir, and stops it when
// t ends.
func (ps *procs) start(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	out, err := os.CreateTemp(ps.dir, "output")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	p := &proc{name: name, cmd: cmd, out: out, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)
	ps.list = append(ps.list, p)
	return p
}

// stop asks the process group to stop (SIGTERM), kills it after a grace
// period, and waits for the process. Safe to call more than once.
func (p *proc) stop() {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid // Setpgid: the group id is the pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // and anything it left behind
		<-p.exited
	})
}

// waitHTTP waits until url answers any HTTP response, or the process exits.
func (p *proc) waitHTTP(url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer at %s within %s", p.name, url, startTimeout)
}

// browser is a cookie-keeping HTTP client that follows redirects, as a
// browser does.
type browser struct {
	client *http.Client
	hops   []string // the URLs of the current request's redirects
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{}
	b.client = &http.Client{
		Jar:     jar,
		Timeout: requestTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			b.hops = append(b.hops, req.URL.String())
			if len(via) >= 20 {
				return errors.New("more than 20 redirects")
			}
			return nil
		},
	}
	return b
}

// page is where a browser request ended.
type page struct {
	status int
	url    *url.URL
	body   string
	hops   []string
}

func (p page) path() string { return p.url.Path }

// visited reports whether a redirect went to prefix (scheme, host, path).
func (p page) visited(prefix string) bool {
	for _, h := range p.hops {
		u, err := url.Parse(h)
		if err == nil && u.Scheme+"://"+u.Host+u.Path == prefix {
			return true
		}
	}
	return false
}

// chain lists the redirects without their query strings (they carry
// request tokens and verifiers).
func (p page) chain() string {
	var s []string
	for _, h := range p.hops {
		if u, err := url.Parse(h); err == nil {
			s = append(s, u.Scheme+"://"+u.Host+u.Path)
		}
	}
	return "[" + strings.Join(s, " → ") + "]"
}

func (b *browser) get(t *testing.T, u string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

// post submits a form without fields (a button), as a browser does.
func (b *browser) post(t *testing.T, u string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

func (b *browser) do(t *testing.T, req *http.Request) page {
	t.Helper()
	b.hops = nil
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v; redirects: %s", req.Method, req.URL.Path, err, page{hops: b.hops}.chain())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(body), hops: b.hops}
}

// field is the text of the element with the id in app.rb's pages.
func field(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// tokenParam matches OAuth values in logged URLs (the app's access log has
// the callback's request token and verifier).
var tokenParam = regexp.MustCompile(`((?:oauth_token|oauth_token_secret|oauth_verifier|oauth_signature|oauth_nonce|code|state)=)[^&\s"]+`)

func redact(s string) string { return tokenParam.ReplaceAllString(s, "${1}[REDACTED]") }

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
