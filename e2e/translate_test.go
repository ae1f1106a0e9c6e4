package e2e

import (
	"net/http"
	"strings"
	"testing"

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
}
