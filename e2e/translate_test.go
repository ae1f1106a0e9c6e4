package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/successor"
)

// Through real Caddy, after Fitbit's shutdown, an app calling Fitbit's Web
// API over plain HTTP with its Caddy identity is answered from the user's
// Google Health connection (the default: fallback), in Fitbit's JSON and
// Fitbit's error envelope, while /v4/ calls still go to Google unchanged.
func TestFitbitCallsAnsweredFromGoogle(t *testing.T) {
	b := newBridge(t)
	b.mustConnect("alice") // Fitbit, before the shutdown
	b.connectGoogle("bob") // Google only: legacyUserId ALICE1's Google user
	b.sim.SetGone(true)

	resp, body := b.do(b.app("bob"), "GET", "/1/user/-/profile.json", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json;charset=UTF-8" || !strings.Contains(body, `"user"`) {
		t.Fatalf("profile from Google: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if got := resp.Header.Get(successor.CallsHeader); got != "3" {
		t.Errorf("profile: %s %q, want 3", successor.CallsHeader, got)
	}
	code, m := b.get("bob", "/1/user/-/activities/date/today.json")
	if _, ok := m["summary"].(map[string]any); code != 200 || !ok {
		t.Fatalf("daily summary from Google: %d %v", code, m)
	}
	// Heart rate and a night's sleep, as an app written for Fitbit reads
	// them: two days ago by UTC, a night that has ended in every zone
	// (today's may not have, before the person wakes).
	code, m = b.get("bob", "/1/user/-/activities/heart/date/today/1d.json")
	if days, _ := m["activities-heart"].([]any); code != 200 || len(days) != 1 {
		t.Fatalf("heart rate from Google: %d %v", code, m)
	} else if zones, _ := days[0].(map[string]any)["value"].(map[string]any)["heartRateZones"].([]any); len(zones) != 4 {
		t.Fatalf("heart-rate zones from Google: %v", days[0])
	}
	code, m = b.get("bob", "/1.2/user/-/sleep/date/"+time.Now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)+".json")
	if logs, _ := m["sleep"].([]any); code != 200 || len(logs) == 0 || m["summary"] == nil {
		t.Fatalf("sleep from Google: %d %v", code, m)
	} else if lv, _ := logs[0].(map[string]any)["levels"].(map[string]any); lv["data"] == nil {
		t.Fatalf("sleep levels from Google: %v", logs[0])
	}
	code, m = b.get("bob", "/1/user/-/foods/log/date/today.json")
	if code != 404 || errorType(m) != "not_available_from_successor" || m["success"] != false {
		t.Fatalf("untranslated path: %d %v", code, m)
	}
	// The Google API itself, unchanged.
	if code, m := b.get("bob", "/v4/users/me/identity"); code != 200 || m["healthUserId"] != "111111111111111111111" {
		t.Fatalf("google identity: %d %v", code, m)
	}
	if st := b.sim.Stats(); st.Refreshes != 0 {
		t.Fatalf("refreshed against the gone Fitbit: %+v", st)
	}

	// A Fitbit user not connected to Google yet is told where to connect,
	// in Fitbit's envelope; once connected, Google answers.
	code, m = b.get("alice", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "not_connected" || !strings.Contains(errorMessage(m), "/fitbit/authorize?provider=google_health") {
		t.Fatalf("fitbit user, no google connection: %d %v", code, m)
	}
	b.connectGoogle("alice")
	if code, m := b.get("alice", "/1/user/-/activities/date/today.json"); code != 200 || m["summary"] == nil {
		t.Fatalf("fitbit user answered from Google: %d %v", code, m)
	}

	// Google's 401 refreshes and replays, as for any proxied call.
	b.google.ExpireAccessTokens("111111111111111111111")
	resp, _ = b.do(b.app("bob"), "GET", "/1/user/-/profile.json", nil, http.Header{"Accept-Language": {"en_US"}})
	if resp.StatusCode != 200 {
		t.Fatalf("after Google's token expired: %d", resp.StatusCode)
	}
	if st := b.google.Stats(); st.Refreshes != 1 || st.InvalidGrants != 0 {
		t.Fatalf("google simulator %+v", st)
	}
	if found := secretsIn(t, b.dir, b.google.IssuedSecrets()); len(found) > 0 {
		t.Fatalf("google secrets in plain text: %v", found)
	}

	// Operators count translated calls and the Google calls they cost.
	resp, err := http.Get("http://localhost:2999/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`caddy_fitbit_translated_requests_total{endpoint="profile",provider="google_health",status="200"}`,
		`caddy_fitbit_translated_requests_total{endpoint="none",provider="google_health",status="404"}`,
		`caddy_fitbit_translated_google_calls_total{endpoint="daily activity summary",provider="google_health"}`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A gateway with a Google Health registration only (no Fitbit one) answers
// every Fitbit call from Google, and proxies /v4/ calls unchanged.
func TestGoogleOnlyGatewayAnswersFitbitCalls(t *testing.T) {
	g, err := googlesim.Start(googlesim.Config{RedirectURIs: []string{gateway + "/fitbit/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	e := &env{t: t, dir: t.TempDir(), key: newKey(), fitbitUser: map[string]string{}}
	e.sim, err = fitbitsim.Start(fitbitsim.Config{RateLimitPerHour: -1}) // the template names it; no registration uses it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sim.Close() })
	e.load(options{Fitbit: "encryption_key " + e.key + "\n\t\t" + googleProvider(g)})

	code, m := e.get("alice", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "not_connected" || m["success"] != false {
		t.Fatalf("not connected: %d %v", code, m)
	}
	resp, body := e.do(e.browser("alice"), "GET", "/fitbit/authorize", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Google Health account is connected") {
		t.Fatalf("connect to Google Health: %d %s", resp.StatusCode, body)
	}
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || m["user"] == nil {
		t.Fatalf("profile from Google: %d %v", code, m)
	}
	if code, m := e.get("alice", "/1/user/-/activities/date/today.json"); code != 200 || m["summary"] == nil {
		t.Fatalf("daily summary from Google: %d %v", code, m)
	}
	if code, m := e.get("alice", "/1/user/-/foods/log/date/today.json"); code != 404 || errorType(m) != "not_available_from_successor" {
		t.Fatalf("untranslated path: %d %v", code, m)
	}
	// The activity log list, and its next page by the link it gives,
	// resolved against the gateway as an app follows it.
	first := "/1/user/-/activities/list.json?beforeDate=" + time.Now().AddDate(0, 0, 2).Format(time.DateOnly) + "&sort=desc&limit=2&offset=0"
	code, m = e.get("alice", first)
	acts, _ := m["activities"].([]any)
	next, _ := m["pagination"].(map[string]any)["next"].(string)
	ref, err := url.Parse(next)
	if code != 200 || len(acts) != 2 || err != nil || next == "" {
		t.Fatalf("activity log list: %d %v", code, m)
	}
	base, _ := url.Parse(gateway + first)
	code, m = e.get("alice", base.ResolveReference(ref).RequestURI())
	if more, _ := m["activities"].([]any); code != 200 || len(more) != 2 || more[0].(map[string]any)["startTime"].(string) >= acts[1].(map[string]any)["startTime"].(string) {
		t.Fatalf("the list's next page: %d %v", code, m)
	}
	if code, m := e.get("alice", "/v4/users/me/identity"); code != 200 || m["healthUserId"] == nil {
		t.Fatalf("google identity: %d %v", code, m)
	}
	if st := e.sim.Stats(); st.APIRequests != 0 {
		t.Fatalf("the simulated Fitbit was called: %+v", st)
	}
}

// A 2015 app on OAuth 1.0a signs its user in through a Google consent, with
// no Fitbit registration, and reads Fitbit's JSON answered from Google; the
// user's Fitbit id is Google's legacyUserId.
func TestLegacyOAuth1AppOnGoogleHealth(t *testing.T) {
	g := googleWithAlice(t)
	a := newLegacyWith(t, options{Fitbit: "encryption_key " + newKey() + "\n\t\t" + googleProvider(g) +
		"\n\t\toauth1_consumer " + legacyKey + " " + legacySecret})
	tok := a.authorize()
	if reqs := g.AuthRequests(); len(reqs) != 1 {
		t.Fatalf("want one Google consent, saw %d", len(reqs))
	}
	client := a.cfg.Client(context.Background(), tok)
	for _, path := range []string{"/1/user/-/profile.json", "/1/user/ALICE1/profile.json"} {
		resp, err := client.Get(gateway + path)
		if err != nil {
			t.Fatal(err)
		}
		if status, m := readJSON(t, resp); status != 200 || profileUser(m) != "ALICE1" {
			t.Fatalf("%s from Google: %d %v", path, status, m)
		}
	}
	resp, err := client.Get(gateway + "/1/user/-/activities/steps/date/today/7d.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 200 || m["activities-steps"] == nil {
		t.Fatalf("steps from Google: %d %v", status, m)
	}
	if st := a.sim.Stats(); st.APIRequests != 0 || st.CodeExchanges != 0 {
		t.Fatalf("the simulated Fitbit was used: %+v", st)
	}
	if found := secretsIn(t, a.dir, append(g.IssuedSecrets(), tok.Token, tok.TokenSecret, legacySecret)); len(found) > 0 {
		t.Fatalf("secrets on disk: %v", found)
	}
}

// translate set on a transport whose registration it cannot apply to (a
// second google_health registration, not the one that answers) refuses to
// load rather than being ignored; so does an unknown mode.
func TestTranslateMisconfiguredRefusesToLoad(t *testing.T) {
	b := newBridge(t)
	second := strings.Replace(googleProvider(b.google), "provider google_health {", "provider google_other google_health {", 1)
	for name, tc := range map[string]struct{ extra, proxy, want string }{
		"another google_health registration": {second, "provider google_other\n\t\ttranslate google_health always", "neither a fitbit registration"},
		"an unknown mode":                    {"", "translate google_health sometimes", "want off, fallback or always"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := b.caddyfile(options{FitbitExtra: googleProvider(b.google) + "\n\t\t" + tc.extra, ProxyExtra: tc.proxy})
			if msg := tryLoad(t, cfg, "text/caddyfile"); !strings.Contains(msg, tc.want) {
				t.Fatalf("load error %q, want one saying %q", msg, tc.want)
			}
		})
	}
}
