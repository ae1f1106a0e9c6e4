package successor

import (
	"net/http"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// budgeted is the translation with alice's Google budget of perUser calls
// a minute, against a simulated Google allowing googleLimit; simNow is the
// top of a minute, so the budget is back in 60 s.
func budgeted(t *testing.T, perUser, googleLimit int) (*Server, *googlesim.Server, *int) {
	t.Helper()
	sim, err := googlesim.Start(googlesim.Config{Now: func() time.Time { return simNow }, RateLimitPerMinute: googleLimit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	google := manager(t, provider.GoogleHealth, sim.URL())
	connect(t, google, "alice", googlesim.DefaultUserID, sim.MintTokens(googlesim.DefaultUserID, sim.AllScopes()...).AccessToken)
	refused := new(int)
	now := func() time.Time { return simNow }
	b := &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(), PerUser: ratelimit.Window{Limit: perUser, Period: time.Minute}, Now: now,
		OnLimited: func(local bool) {
			if local {
				*refused++
			}
		}}
	tr := &inject.Transport{Base: Counting(http.DefaultTransport), Tokens: google, Provider: google.Provider(), Now: now, Budget: b,
		Identity: func(*http.Request) string { return "alice" }, RefreshOn: provider.GoogleHealth.RefreshOn}
	srv, err := NewServer(tr, sim.URL(), now)
	if err != nil {
		t.Fatal(err)
	}
	srv.Google = google
	srv.Rate = tr
	return srv, sim, refused
}

func rateOf(resp *http.Response) [3]string {
	h := resp.Header
	return [3]string{h.Get(ratelimit.HeaderLimit), h.Get(ratelimit.HeaderRemaining), h.Get(ratelimit.HeaderReset)}
}

// Translated calls carry Fitbit's rate-limit headers, computed from the
// identity's Google budget, and count every Google call: a Fitbit call the
// budget runs out of midway is the gateway's 429 in Fitbit's envelope
// (never a partial answer), with Retry-After, and nothing more reaches
// Google.
func TestTranslatedCallsCountAgainstTheGoogleBudget(t *testing.T) {
	srv, sim, refused := budgeted(t, 5, -1)
	resp, _ := callReq(t, srv, identified("/1/user/-/profile.json"))
	if resp.StatusCode != 200 || resp.Header.Get(CallsHeader) != "3" || rateOf(resp) != [3]string{"5", "2", "60"} {
		t.Fatalf("profile: %d, %s %q, rate %v", resp.StatusCode, CallsHeader, resp.Header.Get(CallsHeader), rateOf(resp))
	}
	// The daily summary needs more than the 2 calls left.
	resp, v := callReq(t, srv, identified("/1/user/-/activities/date/today.json"))
	if resp.StatusCode != 429 || errorType(v) != apierror.RateLimitExceeded || resp.Header.Get("Retry-After") != "60" ||
		rateOf(resp) != [3]string{"5", "0", "60"} || resp.Header.Get(CallsHeader) != "2" {
		t.Fatalf("past the budget: %d %v %v", resp.StatusCode, resp.Header, v)
	}
	if st := sim.Stats(); st.APIRequests != 5 || *refused != 1 {
		t.Fatalf("Google saw %d calls, %d refused here; want 5 and 1 (no retry of a refusal)", st.APIRequests, *refused)
	}
	// Spent: refused before any Google call.
	resp, _ = callReq(t, srv, identified("/1/user/-/profile.json"))
	if resp.StatusCode != 429 || resp.Header.Get(CallsHeader) != "0" || sim.Stats().APIRequests != 5 {
		t.Fatalf("spent budget: %d, %s %s", resp.StatusCode, CallsHeader, resp.Header.Get(CallsHeader))
	}
}

// Google's own 429 is not retried within its Retry-After: the app gets
// Fitbit's 429 with Google's Retry-After, and the identity is blocked
// until then, so its next calls reach Google no more.
func TestTranslatedGoogle429(t *testing.T) {
	srv, sim, refused := budgeted(t, 300, 4)
	if resp, _ := callReq(t, srv, identified("/1/user/-/profile.json")); resp.StatusCode != 200 {
		t.Fatalf("profile: %d", resp.StatusCode)
	}
	resp, v := callReq(t, srv, identified("/1/user/-/activities/date/today.json"))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || resp.Header.Get(ratelimit.HeaderLimit) != "300" {
		t.Fatalf("Google's 429: %d %v %v", resp.StatusCode, resp.Header, v)
	}
	st := sim.Stats()
	if st.API429 != 1 || st.APIRequests != 5 {
		t.Fatalf("Google %+v: want 5 calls, the last answered 429", st)
	}
	resp, _ = callReq(t, srv, identified("/1/user/-/profile.json"))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || sim.Stats().APIRequests != 5 || *refused != 1 {
		t.Fatalf("after Google's 429: %d %v, Google %+v", resp.StatusCode, resp.Header, sim.Stats())
	}
}

// identified is a Fitbit call of alice, whose identity the router resolved.
func identified(path string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://gw"+path, nil)
	return req.WithContext(inject.WithIdentity(req.Context(), "alice"))
}

// An answer that made no Google call (a call refused before any, for a
// date Fitbit would refuse) carries the identity's Google window as it
// stands, spending none of it.
func TestAnswersWithoutGoogleCallsCarryTheWindow(t *testing.T) {
	srv, sim, _ := budgeted(t, 5, -1)
	if resp, _ := callReq(t, srv, identified("/1/user/-/profile.json")); resp.StatusCode != 200 || rateOf(resp) != [3]string{"5", "2", "60"} {
		t.Fatalf("profile: %d, rate %v", resp.StatusCode, rateOf(resp))
	}
	for range 2 {
		resp, v := callReq(t, srv, identified("/1/user/-/activities/date/2026-13-45.json"))
		if resp.StatusCode != 400 || resp.Header.Get(CallsHeader) != "0" || rateOf(resp) != [3]string{"5", "2", "60"} {
			t.Fatalf("bad date: %d, rate %v, %v", resp.StatusCode, rateOf(resp), v)
		}
	}
	if st := sim.Stats(); st.APIRequests != 3 {
		t.Fatalf("Google saw %d calls, want 3", st.APIRequests)
	}
}
