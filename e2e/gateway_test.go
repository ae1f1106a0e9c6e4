package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func TestConnectFlowAndStatus(t *testing.T) {
	e := newEnv(t, options{})
	code, st := e.get("alice", "/fitbit/status")
	if code != 200 || st["connected"] != false || st["connect_url"] != "/fitbit/authorize" {
		t.Fatalf("status before connecting: %d %v", code, st)
	}
	e.mustConnect("alice")
	code, st = e.get("alice", "/fitbit/status")
	if code != 200 || st["connected"] != true || st["user_id"] != "ALICE1" || st["health"] != "ok" {
		t.Fatalf("status after connecting: %d %v", code, st)
	}
	if _, ok := st["access_token_expires_at"]; !ok {
		t.Errorf("status lacks the expiry: %v", st)
	}
	b, _ := json.Marshal(st)
	for _, s := range e.sim.IssuedSecrets() {
		if strings.Contains(string(b), s) {
			t.Fatalf("status leaks a token: %s", b)
		}
	}
	if got := e.sim.Stats(); got.CodeExchanges != 1 || got.Authorizations != 1 {
		t.Fatalf("simulator saw %+v", got)
	}
}

func TestConnectPartialScopesAndDenial(t *testing.T) {
	e := newEnv(t, options{})
	e.sim.SetConsent(func(_ *http.Request, _ []string) fitbitConsent {
		return fitbitConsent{UserID: "PART01", Granted: []string{"profile"}}
	})
	e.mustConnect("alice")
	_, st := e.get("alice", "/fitbit/status")
	if scopes, _ := st["scopes"].([]any); len(scopes) != 1 || scopes[0] != "profile" {
		t.Fatalf("scopes after a partial grant: %v", st["scopes"])
	}
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "PART01" {
		t.Fatalf("profile: %d %v", code, m)
	}
	// A scope the user did not grant: Fitbit's 403 passes through.
	if code, m := e.get("alice", "/1/user/-/activities/date/today.json"); code != 403 || errorType(m) != "insufficient_scope" {
		t.Fatalf("ungranted scope: %d %v", code, m)
	}

	e.sim.SetConsent(func(_ *http.Request, _ []string) fitbitConsent { return fitbitConsent{Deny: true} })
	resp, body := e.connect("bob")
	if resp.StatusCode != 200 || !strings.Contains(body, "did not allow access") {
		t.Fatalf("denied consent: %d %s", resp.StatusCode, body)
	}
	if _, st := e.get("bob", "/fitbit/status"); st["connected"] != false {
		t.Fatalf("bob connected after denying: %v", st)
	}
}

func TestProxiedGETAndPOST(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	code, m := e.get("alice", "/1/user/-/profile.json")
	if code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("profile: %d %v", code, m)
	}
	for _, p := range []string{"/1/user/-/activities/date/today.json", "/1/user/-/activities/heart/date/today/1d.json", "/1.2/user/-/sleep/date/today.json"} {
		if code, m := e.get("alice", p); code != 200 {
			t.Errorf("GET %s: %d %v", p, code, m)
		}
	}
	// The caller's own credentials and cookies never reach Fitbit.
	hdr := http.Header{"Cookie": {"session=app-cookie"}, "Proxy-Authorization": {"Basic eDp5"}, "Content-Type": {"application/x-www-form-urlencoded"}, "Accept-Language": {"en_US"}}
	form := "activityName=Run&manualCalories=300&startTime=07:00&durationMillis=1800000&date=2026-11-20"
	resp, body := e.do(e.app("alice"), "POST", "/1/user/-/activities.json", []byte(form), hdr)
	if resp.StatusCode != 201 || !strings.Contains(body, "activityLog") {
		t.Fatalf("POST activity: %d %s", resp.StatusCode, body)
	}
	reqs := e.sim.Requests()
	last := reqs[len(reqs)-1]
	if string(last.Body) != form || last.UserID != "ALICE1" {
		t.Fatalf("simulator received %q as %q", last.Body, last.UserID)
	}
	if a := last.Header.Get("Authorization"); !strings.HasPrefix(a, "Bearer ") || strings.Contains(a, "Basic") {
		t.Fatalf("Authorization upstream: %q", a)
	}
	if last.Header.Get("Cookie") != "" || last.Header.Get("Proxy-Authorization") != "" {
		t.Fatalf("caller credentials reached Fitbit: %v", last.Header)
	}
	if last.Header.Get("Accept-Language") != "en_US" {
		t.Fatalf("Accept-Language did not pass through: %v", last.Header)
	}
	// Fitbit's rate-limit headers reach the app.
	if resp.Header.Get("Fitbit-Rate-Limit-Limit") == "" {
		t.Fatalf("rate-limit headers missing: %v", resp.Header)
	}
}

func TestProactiveRefresh(t *testing.T) {
	e := newEnv(t, options{})
	e.sim.SetAccessTokenLifetime(4 * time.Minute) // inside the 5-minute skew
	e.mustConnect("alice")
	e.sim.SetAccessTokenLifetime(8 * time.Hour)
	for i := 0; i < 3; i++ {
		if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 {
			t.Fatalf("profile: %d %v", code, m)
		}
	}
	st := e.sim.Stats()
	if st.Refreshes != 1 || st.API401 != 0 {
		t.Fatalf("want one proactive refresh and no 401, simulator saw %+v", st)
	}
	_, status := e.get("alice", "/fitbit/status")
	if status["refreshed_at"] == nil {
		t.Fatalf("status does not show the refresh: %v", status)
	}
}

func TestExpiredTokenRefreshAndReplayIdenticalBody(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	body := bytes.Repeat([]byte("\x00binary\xffbody-"), 30000) // ~420 KiB, under the 1 MiB replay buffer
	e.sim.ExpireAccessTokens("ALICE1")
	e.sim.ResetRequests()
	hdr := http.Header{"Content-Type": {"application/octet-stream"}, "X-Trace": {"abc"}}
	resp, out := e.do(e.app("alice"), "POST", "/1/user/-/echo?x=1&y=2", body, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("replayed POST: %d %s", resp.StatusCode, out)
	}
	sum := sha256.Sum256(body)
	if !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("echo does not hold the body's hash: %s", out[:200])
	}
	reqs := e.sim.Requests()
	if len(reqs) != 2 || reqs[0].Status != 401 || reqs[1].Status != 200 {
		for _, r := range reqs {
			t.Logf("%s %s %d %d", r.Method, r.Path, r.Status, len(r.Body))
		}
		t.Fatalf("want a 401 then a 200 upstream, got %d requests", len(reqs))
	}
	first, second := reqs[0], reqs[1]
	if !bytes.Equal(first.Body, body) || !bytes.Equal(second.Body, body) {
		t.Fatal("replayed body differs from the original")
	}
	if first.Method != second.Method || first.Path != second.Path || first.RawQuery != second.RawQuery {
		t.Fatalf("replay differs: %s %s?%s vs %s %s?%s", first.Method, first.Path, first.RawQuery, second.Method, second.Path, second.RawQuery)
	}
	for k := range first.Header {
		if k == "Authorization" {
			continue
		}
		if strings.Join(first.Header[k], ",") != strings.Join(second.Header[k], ",") {
			t.Errorf("header %s differs: %q vs %q", k, first.Header[k], second.Header[k])
		}
	}
	if first.Header.Get("Authorization") == second.Header.Get("Authorization") {
		t.Fatal("replay used the same token")
	}
	if st := e.sim.Stats(); st.Refreshes != 1 {
		t.Fatalf("refreshes: %+v", st)
	}
}

func TestOversizeBodyIsStreamedNotReplayed(t *testing.T) {
	e := newEnv(t, options{ProxyExtra: "max_replay_body 1KiB"})
	e.mustConnect("alice")
	e.sim.ExpireAccessTokens("ALICE1")
	big := bytes.Repeat([]byte("x"), 8<<10)
	resp, out := e.do(e.app("alice"), "POST", "/1/user/-/echo", big, http.Header{"Content-Type": {"text/plain"}})
	var m map[string]any
	_ = json.Unmarshal([]byte(out), &m)
	if resp.StatusCode != 401 || errorType(m) != "replay_impossible" {
		t.Fatalf("oversize body after expiry: %d %s", resp.StatusCode, out)
	}
	for _, s := range e.sim.IssuedSecrets() {
		if strings.Contains(out, s) {
			t.Fatal("error leaks a token")
		}
	}
	// The gateway refreshed anyway: the retry goes straight through.
	resp, out = e.do(e.app("alice"), "POST", "/1/user/-/echo", big, http.Header{"Content-Type": {"text/plain"}})
	if resp.StatusCode != 200 {
		t.Fatalf("retry: %d %s", resp.StatusCode, out)
	}
	if st := e.sim.Stats(); st.Refreshes != 1 {
		t.Fatalf("refreshes: %+v", st)
	}
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	e := newEnv(t, options{})
	e.sim.SetAccessTokenLifetime(4 * time.Minute)
	e.mustConnect("alice")
	e.sim.SetAccessTokenLifetime(8 * time.Hour)

	run := func(name string) {
		var wg sync.WaitGroup
		codes := make(chan int, 100)
		start := make(chan struct{})
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := e.app("alice").Get(gateway + "/1/user/-/profile.json")
				if err != nil {
					codes <- -1
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != 200 {
				t.Fatalf("%s: a request got %d", name, c)
			}
		}
	}
	run("proactive")
	if st := e.sim.Stats(); st.Refreshes != 1 || st.RefreshReuseRejected != 0 || st.GraceReplays != 0 {
		t.Fatalf("proactive: want exactly one refresh, simulator saw %+v", st)
	}
	// Fitbit expires the token early: 100 requests get 401 and share one refresh.
	e.sim.ExpireAccessTokens("ALICE1")
	run("after 401")
	if st := e.sim.Stats(); st.Refreshes != 2 || st.RefreshReuseRejected != 0 || st.GraceReplays != 0 {
		t.Fatalf("after 401: want exactly one more refresh, simulator saw %+v", st)
	}
}

func TestIdentitiesNeverSeeEachOthersData(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	e.mustConnect("bob")
	for i := 0; i < 5; i++ {
		if _, m := e.get("alice", "/1/user/-/profile.json"); profileUser(m) != "ALICE1" {
			t.Fatalf("alice got %v", m)
		}
		if _, m := e.get("bob", "/1/user/-/profile.json"); profileUser(m) != "BOB222" {
			t.Fatalf("bob got %v", m)
		}
	}
	// Naming the other user's id in the path is Fitbit's to refuse.
	if code, _ := e.get("bob", "/1/user/ALICE1/profile.json"); code != 403 {
		t.Fatalf("bob reading alice's profile by id: %d", code)
	}
}

func TestNotConnectedAndUnauthenticated(t *testing.T) {
	e := newEnv(t, options{})
	code, m := e.get("bob", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "not_connected" || !strings.Contains(errorMessage(m), "/fitbit/authorize") || m["success"] != false {
		t.Fatalf("unconnected: %d %v", code, m)
	}
	resp, _ := e.do(e.app("bob"), "GET", "/1/user/-/profile.json", nil, nil)
	if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `connect_url="/fitbit/authorize"`) {
		t.Fatalf("401 challenge: %q", c)
	}
	resp, _ = e.do(&http.Client{}, "GET", "/1/user/-/profile.json", nil, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("no credentials: %d", resp.StatusCode)
	}
	if st := e.sim.Stats(); st.APIRequests != 0 {
		t.Fatalf("unauthenticated requests reached Fitbit: %+v", st)
	}
}

func TestInvalidGrantMarksNeedsReauth(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	e.sim.RevokeUser("ALICE1") // the user revoked the app at fitbit.com
	code, m := e.get("alice", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "reauthorization_required" || !strings.Contains(errorMessage(m), "/fitbit/authorize") {
		t.Fatalf("after revocation: %d %v", code, m)
	}
	if _, st := e.get("alice", "/fitbit/status"); st["health"] != "needs_reauth" {
		t.Fatalf("status: %v", st)
	}
	tokenCalls := e.sim.Stats().InvalidGrants
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "reauthorization_required" {
		t.Fatalf("second call: %d %v", code, m)
	}
	if e.sim.Stats().InvalidGrants != tokenCalls {
		t.Fatal("the gateway kept calling the token endpoint for a dead connection")
	}
	// Connecting again heals it.
	e.sim.SetConsent(func(_ *http.Request, _ []string) fitbitConsent { return fitbitConsent{UserID: "ALICE1"} })
	e.mustConnect("alice")
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("after reconnecting: %d %v", code, m)
	}
	if _, st := e.get("alice", "/fitbit/status"); st["health"] != "ok" {
		t.Fatalf("status after reconnecting: %v", st)
	}
}

func TestDisconnect(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	resp, _ := e.do(e.app("alice"), "POST", "/fitbit/disconnect", nil, http.Header{"Origin": {"https://evil.example"}})
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site disconnect: %d", resp.StatusCode)
	}
	resp, body := e.do(e.app("alice"), "GET", "/fitbit/disconnect", nil, nil)
	if resp.StatusCode != 405 {
		t.Fatalf("GET disconnect: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(e.app("alice"), "POST", "/fitbit/disconnect", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"was_connected":true`) {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, body)
	}
	if st := e.sim.Stats(); st.Revocations != 1 {
		t.Fatalf("revocations: %+v", st)
	}
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "not_connected" {
		t.Fatalf("after disconnect: %d %v", code, m)
	}
	resp, body = e.do(e.app("alice"), "POST", "/fitbit/disconnect", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"was_connected":false`) {
		t.Fatalf("second disconnect: %d %s", resp.StatusCode, body)
	}
}

func TestTokenEndpointFailureKeepsTokens(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	e.mustConnect("bob")
	// Fitbit's token endpoint goes down (here: 503, then a hang). Each phase
	// has its own identity, so no refresh of one phase can serve the other.
	down := newFlakyTokenEndpoint(t, e.sim.TokenURL())
	e.load(options{TokenURL: down.URL(), FitbitExtra: "token_timeout 500ms\n\t\ttoken_retry_budget 1s"})
	e.sim.ExpireAccessTokens("ALICE1")
	e.sim.ExpireAccessTokens("BOB222")
	down.setMode(mode503)
	code, m := e.get("alice", "/1/user/-/profile.json")
	if code != 502 || errorType(m) != "upstream_unavailable" {
		t.Fatalf("token endpoint 503: %d %v", code, m)
	}
	down.setMode(modeHang)
	code, m = e.get("bob", "/1/user/-/profile.json")
	if code != 504 || errorType(m) != "upstream_unavailable" {
		t.Fatalf("token endpoint hanging: %d %v", code, m)
	}
	// It comes back: the kept refresh tokens still work.
	down.setMode(modePass)
	for _, u := range []string{"alice", "bob"} {
		if code, m := e.get(u, "/1/user/-/profile.json"); code != 200 {
			t.Fatalf("%s after recovery: %d %v", u, code, m)
		}
	}
	if st := e.sim.Stats(); st.Refreshes != 2 || st.InvalidGrants != 0 {
		t.Fatalf("simulator saw %+v", st)
	}
}

// A reload with the same fitbit settings keeps the app's state — the cache
// of decrypted connections — and one with other settings builds a new state
// that reads the store. The stored record is moved away before the reloads:
// a reused state still answers from its cache; a new one finds nothing.
func TestReloadKeepsConnections(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	if code, _ := e.get("alice", "/1/user/-/profile.json"); code != 200 {
		t.Fatal("before reload")
	}
	record := filepath.Join(e.dir, "storage", "fitbit", "connections", "fitbit", tokenstore.IdentityHash("alice"))
	aside := record + ".aside"
	if err := os.Rename(record, aside); err != nil {
		t.Fatalf("moving the stored connection away: %v", err)
	}

	// Same fitbit settings, another site config: the state is reused, so
	// alice's connection comes from the cache, not from the store.
	e.load(options{SiteExtra: "header X-Reloaded yes"})
	resp, body := e.do(e.app("alice"), "GET", "/1/user/-/profile.json", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Reloaded") != "yes" {
		t.Fatalf("after a reload with the same settings (the state should be reused, its cache answer): %d %s", resp.StatusCode, body)
	}

	// Other fitbit settings: a new state, whose cache is empty, reads the
	// store, where alice has no connection now …
	e.load(options{FitbitExtra: "cache_size 50"})
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "not_connected" {
		t.Fatalf("after a reload with new settings and no stored record (the state should be new): %d %v", code, m)
	}
	// … and, once the record is back, it reads the stored connection.
	if err := os.Rename(aside, record); err != nil {
		t.Fatal(err)
	}
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("after a reload with new settings: %d %v", code, m)
	}
	if st := e.sim.Stats(); st.CodeExchanges != 1 || st.Refreshes != 0 {
		t.Fatalf("simulator saw %+v", st)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, options{})
	e.mustConnect("alice")
	e.sim.ExpireAccessTokens("ALICE1")
	e.get("alice", "/1/user/-/profile.json")
	e.get("bob", "/1/user/-/profile.json")
	resp, err := http.Get("http://localhost:2999/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	text := buf.String()
	for _, want := range []string{
		`caddy_fitbit_refreshes_total{provider="fitbit",result="ok"}`,
		`caddy_fitbit_token_endpoint_duration_seconds_count{provider="fitbit",result="ok"}`,
		`caddy_fitbit_proxied_requests_total{outcome="replayed",provider="fitbit"}`,
		`caddy_fitbit_proxied_requests_total{outcome="not_connected",provider="fitbit"}`,
		`caddy_fitbit_connects_total{provider="fitbit"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Every series names its provider registration.
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "caddy_fitbit_") && !strings.Contains(line, `provider="`) {
			t.Errorf("no provider label: %s", line)
		}
	}
	for _, s := range e.sim.IssuedSecrets() {
		if strings.Contains(text, s) {
			t.Fatal("metrics leak a token")
		}
	}
}

// With fitbit_auth under another prefix and no connect_url, the proxy's 401
// and the status endpoint name the same connect URL: that handler's.
func TestConnectURLFollowsTheAuthPrefix(t *testing.T) {
	e := newEnv(t, options{Site: `basic_auth {
		alice ` + hashes["alice"] + `
		bob ` + hashes["bob"] + `
	}
	fitbit_auth /connect
	fitbit_proxy`})
	code, m := e.get("bob", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "not_connected" || !strings.Contains(errorMessage(m), "/connect/authorize") {
		t.Fatalf("unconnected: %d %v", code, m)
	}
	resp, _ := e.do(e.app("bob"), "GET", "/1/user/-/profile.json", nil, nil)
	if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `connect_url="/connect/authorize"`) {
		t.Fatalf("401 challenge: %q", c)
	}
	if code, st := e.get("bob", "/connect/status"); code != 200 || st["connect_url"] != "/connect/authorize" {
		t.Fatalf("status: %d %v", code, st)
	}
}
