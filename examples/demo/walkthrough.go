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
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/successor"
)

// walker runs the walkthrough against the demo gateway.
type walker struct {
	ctx    context.Context
	out    *console
	gw     gateway
	sim    *fitbitsim.Server
	google *googlesim.Server
	step   int
	// lastCalls is the Google-call count of the last answer, if translated.
	lastCalls string
}

// walkthrough connects alice, uses her data across a token expiry and shows
// that bob cannot see it; then it bridges to the Google Health API (alice
// connects both providers, bob Google only) and switches Fitbit off. It
// returns the first step that did not behave.
func walkthrough(ctx context.Context, out *console, gw gateway, sim *fitbitsim.Server, google *googlesim.Server) error {
	w := &walker{ctx: ctx, out: out, gw: gw, sim: sim, google: google}
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

	out.printf("\nThe bridge: Fitbit's Web API is being turned off; its successor is the Google Health API.\n")
	out.printf("Every user consents again, with Google; the gateway holds both registrations side by side.\n")
	aliceGoogle, err := w.connectGoogle(alice, fitbitUser)
	if err != nil {
		return err
	}
	if err := w.useGoogle(alice, aliceGoogle); err != nil {
		return err
	}
	if err := w.migrated(bob, aliceGoogle); err != nil {
		return err
	}
	if err := w.shutdown(alice); err != nil {
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

// googleConnectURL is where a user connects Google Health.
const googleConnectURL = "/fitbit/authorize?provider=google_health"

// providerStatus is one entry of /fitbit/status's providers map.
type providerStatus struct {
	Connected bool              `json:"connected"`
	UserID    string            `json:"user_id"`
	IDs       map[string]string `json:"ids"`
	Scopes    []string          `json:"scopes"`
	Health    string            `json:"health"`
	GoneSince string            `json:"provider_gone_since"`
}

func (p providerStatus) String() string {
	if !p.Connected {
		s := "not connected"
		if p.Health != "" {
			s += " health=" + p.Health
		}
		return s
	}
	s := "connected user_id=" + p.UserID
	if id := p.IDs["legacy_user_id"]; id != "" {
		s += " ids.legacy_user_id=" + id
	}
	s += " health=" + p.Health
	if p.GoneSince != "" {
		s += " provider_gone_since=" + p.GoneSince
	}
	return s + fmt.Sprintf(" scopes=%v", shortScopes(p.Scopes))
}

// statusOf fetches /fitbit/status for c and shows both providers.
func (w *walker) statusOf(c *http.Client) (map[string]providerStatus, error) {
	r, err := w.get(c, "/fitbit/status")
	if err != nil {
		return nil, err
	}
	var st struct {
		Providers map[string]providerStatus `json:"providers"`
	}
	if err := r.decode(&st); err != nil || st.Providers == nil {
		w.show(r, r.trimmed())
		return nil, w.fail("want a providers map")
	}
	w.show(r, "providers.fitbit:        "+st.Providers["fitbit"].String()+
		"\n     providers.google_health: "+st.Providers["google_health"].String())
	if w.leakedSecret(r.body) {
		return nil, w.fail("the status response holds a token")
	}
	return st.Providers, nil
}

// 6. alice's browser connects Google Health too; returns her healthUserId.
func (w *walker) connectGoogle(alice *http.Client, fitbitUser string) (string, error) {
	w.title("alice's browser also connects Google Health: " + googleConnectURL + " → Google consent → /fitbit/callback")
	r, err := w.get(alice, googleConnectURL)
	if err != nil {
		return "", err
	}
	w.show(r, "page: "+r.pageTitle()+"  (after "+strings.Join(r.hops, " → ")+")")
	if r.status != http.StatusOK || r.pageTitle() != "Connected" {
		return "", w.fail("want 200 and the \"Connected\" page")
	}
	st, err := w.statusOf(alice)
	if err != nil {
		return "", err
	}
	fb, gh := st["fitbit"], st["google_health"]
	if !fb.Connected || fb.UserID != fitbitUser || !gh.Connected || gh.UserID == "" {
		return "", w.fail("want both providers connected, Fitbit as " + fitbitUser)
	}
	if gh.IDs["legacy_user_id"] != fitbitUser {
		return "", w.fail("want Google's legacy_user_id " + fitbitUser)
	}
	w.note("alice is Google Health user %s; Google reports her old Fitbit id as legacyUserId %s", gh.UserID, fitbitUser)
	w.note("(the simulators pair people by order: Google's first user is Fitbit's first user, DEMO01)")
	w.note("the status shows both connections and no token, ever; the same callback served both consents")
	return gh.UserID, nil
}

// 7. alice's app reads Google Health data, across an expiry of Google's
// access token.
func (w *walker) useGoogle(alice *http.Client, healthUser string) error {
	w.title("alice's app reads her Google Health data: /v4/... paths go to Google with her Google token")
	var id struct {
		HealthUserID string `json:"healthUserId"`
		LegacyUserID string `json:"legacyUserId"`
	}
	if err := w.getJSON(alice, "/v4/users/me/identity", &id, func() string {
		return fmt.Sprintf("healthUserId=%s legacyUserId=%s", id.HealthUserID, id.LegacyUserID)
	}); err != nil {
		return err
	}
	if id.HealthUserID != healthUser {
		return w.fail("want healthUserId " + healthUser)
	}
	if err := w.rollUp(alice); err != nil {
		return err
	}

	before, fitbitBefore := w.google.Stats().Refreshes, w.sim.Stats().Refreshes
	w.google.ExpireAccessTokens(healthUser)
	w.note("simulated Google: every access token of %s now answers 401 UNAUTHENTICATED; the app POSTs again", healthUser)
	if err := w.rollUp(alice); err != nil {
		return err
	}
	after := w.google.Stats().Refreshes
	w.note("simulated Google refresh counter: %d → %d — the gateway refreshed and replayed the POST; the app saw nothing", before, after)
	if after != before+1 {
		return w.fail(fmt.Sprintf("want exactly one Google refresh, saw %d", after-before))
	}
	if n := w.sim.Stats().Refreshes; n != fitbitBefore {
		return w.fail(fmt.Sprintf("Fitbit refreshed too (%d → %d)", fitbitBefore, n))
	}
	issued, live := w.google.Stats().RefreshTokensIssued, w.google.LiveRefreshTokens(healthUser)
	w.note("Google does not rotate refresh tokens: its answer had none (refresh tokens issued by refreshes: %d),", issued)
	w.note("so the gateway kept the one it has (alice's live Google refresh tokens: %d); Fitbit rotates on every refresh", live)
	if issued != 0 || live != 1 {
		return w.fail("want no rotation and one live refresh token")
	}
	return nil
}

// rollUp POSTs a steps dailyRollUp of the last 7 days for c.
func (w *walker) rollUp(c *http.Client) error {
	now := time.Now().UTC()
	body := rollUpBody(now.AddDate(0, 0, -6), now.AddDate(0, 0, 1))
	r, err := w.do(c, http.MethodPost, "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp", []byte(body))
	if err != nil {
		return err
	}
	var ru struct {
		Points []struct {
			Steps struct {
				CountSum string `json:"countSum"`
			} `json:"steps"`
		} `json:"rollupDataPoints"`
	}
	if r.status != http.StatusOK || r.decode(&ru) != nil || len(ru.Points) != 7 {
		w.show(r, r.trimmed())
		return w.fail("want 200 with 7 daily roll-ups")
	}
	steps := make([]string, len(ru.Points))
	for i, p := range ru.Points {
		steps[i] = p.Steps.CountSum
	}
	w.show(r, "last 7 days, steps.countSum per day: "+strings.Join(steps, " ")+" (today so far last)")
	return nil
}

// 8. bob connects Google Health only; his app's Fitbit calls are answered
// from Google (the translation, mode fallback: he has no Fitbit connection).
func (w *walker) migrated(bob *http.Client, aliceHealth string) error {
	w.title("bob connects Google Health only; his app still calls a Fitbit path")
	r, err := w.get(bob, googleConnectURL)
	if err != nil {
		return err
	}
	w.show(r, "page: "+r.pageTitle()+"  (after "+strings.Join(r.hops, " → ")+")")
	if r.status != http.StatusOK || r.pageTitle() != "Connected" {
		return w.fail("want 200 and the \"Connected\" page")
	}
	var profile struct {
		User struct {
			EncodedID string `json:"encodedId"`
		} `json:"user"`
	}
	if err := w.getJSON(bob, "/1/user/-/profile.json", &profile, func() string {
		return "Fitbit's profile JSON, answered from Google Health: user.encodedId=" + profile.User.EncodedID
	}); err != nil {
		return err
	}
	w.note("bob has no Fitbit connection, so the gateway translated the call into Google Health API calls (%s: %s)",
		successor.CallsHeader, w.lastCalls)
	var id struct {
		HealthUserID string `json:"healthUserId"`
		LegacyUserID string `json:"legacyUserId"`
	}
	if err := w.getJSON(bob, "/v4/users/me/identity", &id, func() string {
		return fmt.Sprintf("healthUserId=%s legacyUserId=%s", id.HealthUserID, id.LegacyUserID)
	}); err != nil {
		return err
	}
	if id.HealthUserID == "" || id.HealthUserID == aliceHealth {
		return w.fail("want bob's own healthUserId")
	}
	w.note("bob is Google's second user, paired by order with Fitbit's DEMO02: a Fitbit account he never connected here")
	r, err = w.get(bob, "/v4/users/"+aliceHealth+"/identity")
	if err != nil {
		return err
	}
	w.show(r, r.trimmed())
	if r.status != http.StatusForbidden {
		return w.fail("want 403: the gateway sends bob's token, and Google refuses it for alice's path")
	}
	return nil
}

// 9. Fitbit turns its API off; Fitbit calls are answered from Google.
func (w *walker) shutdown(alice *http.Client) error {
	w.title("Fitbit turns its Web API off (it answers 410 Gone); alice's app calls both")
	w.sim.SetGone(true)
	defer w.sim.SetGone(false)
	w.note("simulated Fitbit: every endpoint now answers 410 Gone")
	var day struct {
		Summary struct {
			Steps int `json:"steps"`
		} `json:"summary"`
	}
	if err := w.getJSON(alice, "/1/user/-/activities/date/today.json", &day, func() string {
		return fmt.Sprintf("Fitbit's daily summary, answered from Google Health: summary.steps=%d", day.Summary.Steps)
	}); err != nil {
		return err
	}
	w.note("Fitbit answered 410, so the gateway answered from alice's Google Health connection instead (%s: %s);",
		successor.CallsHeader, w.lastCalls)
	w.note("her unchanged Fitbit app keeps working. Calls the Google Health API cannot answer say so:")
	r, err := w.get(alice, "/1/user/-/foods/log/date/today.json")
	if err != nil {
		return err
	}
	w.show(r, r.trimmed())
	if err := w.expectError(r, http.StatusNotFound, "not_available_from_successor"); err != nil {
		return err
	}
	if err := w.rollUp(alice); err != nil {
		return err
	}
	st, err := w.statusOf(alice)
	if err != nil {
		return err
	}
	if st["fitbit"].Health != "provider_gone" || st["fitbit"].GoneSince == "" || !st["google_health"].Connected {
		return w.fail("want health provider_gone with provider_gone_since for Fitbit, Google still connected")
	}
	w.note("a 410 is never taken for a token problem: no refresh, no retry; Fitbit is asked again once a minute")

	w.sim.SetGone(false)
	w.note("simulated Fitbit switched back on, so you can try both by hand below")
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

// leakedSecret reports whether body holds any code or token a simulator
// has issued.
func (w *walker) leakedSecret(body []byte) bool {
	for _, s := range append(w.sim.IssuedSecrets(), w.google.IssuedSecrets()...) {
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
	header       http.Header
	body         []byte
	hops         []string // hosts:paths visited, for redirects
}

// get requests path on the gateway, following redirects.
func (w *walker) get(c *http.Client, path string) (*result, error) {
	return w.do(c, http.MethodGet, path, nil)
}

// do sends method path (with a JSON body, if any) to the gateway, following
// redirects.
func (w *walker) do(c *http.Client, method, path string, body []byte) (*result, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.gw.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
		return nil, w.fail(fmt.Sprintf("%s %s: %v", method, path, err))
	}
	defer resp.Body.Close()
	r.hops = append(r.hops, w.describe(resp.Request.URL.Path))
	r.status = resp.StatusCode
	r.header = resp.Header
	w.lastCalls = resp.Header.Get(successor.CallsHeader)
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, w.fail(fmt.Sprintf("%s %s: reading the body: %v", method, path, err))
	}
	return r, nil
}

// describe names a path for the redirect trail.
func (w *walker) describe(path string) string {
	switch path {
	case "/oauth2/authorize":
		return "Fitbit " + path
	case "/o/oauth2/v2/auth":
		return "Google " + path
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
