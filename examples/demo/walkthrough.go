package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
)

// walker runs the walkthrough against the demo gateway.
type walker struct {
	ctx  context.Context
	out  *console
	gw   gateway
	sim  *fitbitsim.Server
	step int
}

// walkthrough connects alice, uses her data across a token expiry and shows
// that bob cannot see it. It returns the first step that did not behave.
func walkthrough(ctx context.Context, out *console, gw gateway, sim *fitbitsim.Server) error {
	w := &walker{ctx: ctx, out: out, gw: gw, sim: sim}
	alice, bob := w.browser("alice", "alice-password"), w.browser("bob", "bob-password")
	out.printf("Walkthrough: alice's browser and alice's app talk to the gateway\n")

	if err := w.beforeConnect(alice); err != nil {
		return err
	}
	fitbitUser, err := w.connect(alice)
	if err != nil {
		return err
	}
	if err := w.useData(alice); err != nil {
		return err
	}
	if err := w.expiry(alice, fitbitUser); err != nil {
		return err
	}
	if err := w.isolation(bob, fitbitUser); err != nil {
		return err
	}
	out.printf("\nWalkthrough complete: every step behaved as expected.\n")
	return nil
}

// 1. The app calls Fitbit for alice before she has connected.
func (w *walker) beforeConnect(alice *http.Client) error {
	w.title("alice's app asks for her profile before she has connected")
	r, err := w.get(alice, "/1/user/-/profile.json")
	if err != nil {
		return err
	}
	w.show(r, r.trimmed())
	return w.expectError(r, http.StatusUnauthorized, "not_connected")
}

// 2. alice's browser goes through the connect flow; returns her Fitbit user id.
func (w *walker) connect(alice *http.Client) (string, error) {
	w.title("alice's browser connects: /fitbit/authorize → Fitbit consent → /fitbit/callback")
	r, err := w.get(alice, "/fitbit/authorize")
	if err != nil {
		return "", err
	}
	w.show(r, "page: "+r.pageTitle()+"  (after "+strings.Join(r.hops, " → ")+")")
	if r.status != http.StatusOK || r.pageTitle() != "Connected" {
		return "", w.fail("want 200 and the \"Connected\" page")
	}

	r, err = w.get(alice, "/fitbit/status")
	if err != nil {
		return "", err
	}
	w.show(r, r.trimmed())
	var st struct {
		Connected bool   `json:"connected"`
		UserID    string `json:"user_id"`
	}
	if err := r.decode(&st); err != nil || !st.Connected || st.UserID == "" {
		return "", w.fail("want connected:true with a user_id")
	}
	if leaked := w.leakedSecret(r.body); leaked {
		return "", w.fail("the status response holds a token")
	}
	w.note("alice is Fitbit user %s; the status shows no token, ever", st.UserID)
	return st.UserID, nil
}

// 3. The app reads alice's data through the gateway.
func (w *walker) useData(alice *http.Client) error {
	w.title("alice's app reads her data (plain HTTP; the gateway adds the token)")
	var p struct {
		User struct {
			EncodedID   string `json:"encodedId"`
			DisplayName string `json:"displayName"`
			MemberSince string `json:"memberSince"`
		} `json:"user"`
	}
	if err := w.getJSON(alice, "/1/user/-/profile.json", &p, func() string {
		return fmt.Sprintf("displayName=%q encodedId=%s memberSince=%s", p.User.DisplayName, p.User.EncodedID, p.User.MemberSince)
	}); err != nil {
		return err
	}
	var a struct {
		Summary struct {
			Steps            int `json:"steps"`
			CaloriesOut      int `json:"caloriesOut"`
			RestingHeartRate int `json:"restingHeartRate"`
		} `json:"summary"`
	}
	return w.getJSON(alice, "/1/user/-/activities/date/today.json", &a, func() string {
		return fmt.Sprintf("steps=%d caloriesOut=%d restingHeartRate=%d", a.Summary.Steps, a.Summary.CaloriesOut, a.Summary.RestingHeartRate)
	})
}

// 4. Fitbit expires alice's access token; the app's next call still works.
func (w *walker) expiry(alice *http.Client, fitbitUser string) error {
	w.title("Fitbit expires alice's access token; her app calls again")
	before := w.sim.Stats().Refreshes
	w.sim.ExpireAccessTokens(fitbitUser)
	w.note("simulated Fitbit: every access token of %s now answers 401 expired_token", fitbitUser)
	var p struct {
		User struct {
			DisplayName string `json:"displayName"`
		} `json:"user"`
	}
	if err := w.getJSON(alice, "/1/user/-/profile.json", &p, func() string {
		return fmt.Sprintf("displayName=%q", p.User.DisplayName)
	}); err != nil {
		return err
	}
	after := w.sim.Stats().Refreshes
	w.note("simulated Fitbit refresh counter: %d → %d — the gateway refreshed and replayed; the app saw nothing", before, after)
	if after != before+1 {
		return w.fail(fmt.Sprintf("want exactly one refresh, saw %d", after-before))
	}
	return nil
}

// 5. bob is authenticated to the gateway but has no Fitbit connection.
func (w *walker) isolation(bob *http.Client, aliceFitbitUser string) error {
	w.title("bob's app: bob has not connected, and cannot reach alice's data")
	r, err := w.get(bob, "/fitbit/status")
	if err != nil {
		return err
	}
	w.show(r, r.trimmed())
	var st struct {
		Connected bool `json:"connected"`
	}
	if err := r.decode(&st); err != nil || st.Connected {
		return w.fail("want connected:false for bob")
	}
	for _, path := range []string{"/1/user/-/profile.json", "/1/user/" + aliceFitbitUser + "/profile.json"} {
		r, err := w.get(bob, path)
		if err != nil {
			return err
		}
		w.show(r, r.trimmed())
		if err := w.expectError(r, http.StatusUnauthorized, "not_connected"); err != nil {
			return err
		}
	}
	return nil
}

// getJSON fetches path, decodes the body into v and shows summary().
func (w *walker) getJSON(c *http.Client, path string, v any, summary func() string) error {
	r, err := w.get(c, path)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		w.show(r, r.trimmed())
		return w.fail("want 200")
	}
	if err := r.decode(v); err != nil {
		w.show(r, r.trimmed())
		return w.fail("the body is not the expected JSON")
	}
	w.show(r, summary())
	return nil
}

// expectError checks status and the errorType of a Fitbit error envelope.
func (w *walker) expectError(r *result, status int, errorType string) error {
	var env struct {
		Errors []struct {
			ErrorType string `json:"errorType"`
		} `json:"errors"`
	}
	if r.status != status || r.decode(&env) != nil || len(env.Errors) == 0 || env.Errors[0].ErrorType != errorType {
		return w.fail(fmt.Sprintf("want %d with errorType %q", status, errorType))
	}
	return nil
}

// leakedSecret reports whether body holds any code or token the simulator
// has issued.
func (w *walker) leakedSecret(body []byte) bool {
	for _, s := range w.sim.IssuedSecrets() {
		if bytes.Contains(body, []byte(s)) {
			return true
		}
	}
	return false
}

// --- HTTP ---

// browser is a client acting as user: a cookie jar, redirects followed, and
// the user's basic_auth credentials sent to the gateway (and only to it), as
// a browser re-sends credentials it has been given for an origin.
func (w *walker) browser(user, password string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		Transport: &basicAuth{
			host: strings.TrimPrefix(w.gw.base, "http://"), user: user, password: password,
			base: http.DefaultTransport,
		},
	}
}

type basicAuth struct {
	host, user, password string
	base                 http.RoundTripper
}

func (b *basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == b.host {
		r = r.Clone(r.Context())
		r.SetBasicAuth(b.user, b.password)
	}
	return b.base.RoundTrip(r)
}

// result is one finished request.
type result struct {
	method, path string
	status       int
	body         []byte
	hops         []string // hosts:paths visited, for redirects
}

// get requests path on the gateway, following redirects.
func (w *walker) get(c *http.Client, path string) (*result, error) {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, w.gw.base+path, nil)
	if err != nil {
		return nil, err
	}
	r := &result{method: req.Method, path: path}
	c2 := *c
	c2.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		r.hops = append(r.hops, w.describe(via[len(via)-1].URL.Path))
		if len(via) >= 10 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}
	resp, err := c2.Do(req)
	if err != nil {
		return nil, w.fail(fmt.Sprintf("GET %s: %v", path, err))
	}
	defer resp.Body.Close()
	r.hops = append(r.hops, w.describe(resp.Request.URL.Path))
	r.status = resp.StatusCode
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, w.fail(fmt.Sprintf("GET %s: reading the body: %v", path, err))
	}
	return r, nil
}

// describe names a path for the redirect trail.
func (w *walker) describe(path string) string {
	if path == "/oauth2/authorize" {
		return "Fitbit " + path
	}
	return path
}

func (r *result) decode(v any) error { return json.Unmarshal(r.body, v) }

// trimmed is the body as one line of compact JSON, cut to a readable length.
func (r *result) trimmed() string {
	var b bytes.Buffer
	s := string(r.body)
	if json.Compact(&b, r.body) == nil {
		s = b.String()
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 320 {
		s = s[:317] + "..."
	}
	return s
}

var h1 = regexp.MustCompile(`<h1>([^<]*)</h1>`)

// pageTitle is the <h1> of an HTML page from the connect flow.
func (r *result) pageTitle() string {
	if m := h1.FindSubmatch(r.body); m != nil {
		return string(m[1])
	}
	return "(no title) " + r.trimmed()
}

// --- output ---

func (w *walker) title(s string) {
	w.step++
	w.out.printf("\n%d. %s\n", w.step, s)
}

func (w *walker) show(r *result, what string) {
	w.out.printf("   %s %-40s → %d %s\n     %s\n", r.method, r.path, r.status, http.StatusText(r.status), what)
}

func (w *walker) note(format string, a ...any) {
	w.out.printf("   "+format+"\n", a...)
}

// fail reports a misbehaving step and returns it as an error.
func (w *walker) fail(why string) error {
	w.out.printf("   ✗ FAILED: %s\n", why)
	return fmt.Errorf("walkthrough step %d: %s", w.step, why)
}
