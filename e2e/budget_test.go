package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Through real Caddy, Fitbit's budget of one user (3 calls an hour here,
// its clock standing 44 min 30 s before the hour turns) is shared by two
// identities connected to the same Fitbit user: the gateway follows
// Fitbit's headers, passes them through, and Fitbit's 429 silences the
// identity until Fitbit's reset: nothing more reaches Fitbit, and the
// gateway answers 429 with Fitbit's headers and Retry-After.
func TestFitbitBudgetAndUpstream429(t *testing.T) {
	clk := simtest.NewClock()
	sim, err := fitbitsim.Start(fitbitsim.Config{Now: clk.Now, RedirectURIs: []string{gateway + "/fitbit/callback"}, RateLimitPerHour: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	sim.SetConsent(func(*http.Request, []string) fitbitsim.Consent { return fitbitsim.Consent{UserID: "ALICE1"} })
	e := &env{t: t, sim: sim, dir: t.TempDir(), key: newKey(), fitbitUser: map[string]string{}}
	e.load(options{Global: eventsOption})
	e.mustConnect("alice")
	e.mustConnect("bob") // the same Fitbit user
	takeEvents()

	call := func(user string) *http.Response {
		t.Helper()
		resp, _ := e.do(e.app(user), "GET", "/1/user/-/profile.json", nil, nil)
		return resp
	}
	rate := func(r *http.Response) string {
		return r.Header.Get("Fitbit-Rate-Limit-Limit") + " " + r.Header.Get("Fitbit-Rate-Limit-Remaining") + " " + r.Header.Get("Fitbit-Rate-Limit-Reset")
	}
	for i, want := range []string{"3 2 2670", "3 1 2670"} {
		if r := call("alice"); r.StatusCode != 200 || rate(r) != want {
			t.Fatalf("alice's call %d: %d, Fitbit's headers %q, want %q", i, r.StatusCode, rate(r), want)
		}
	}
	if r := call("bob"); r.StatusCode != 200 || rate(r) != "3 0 2670" {
		t.Fatalf("bob's call: %d %q", r.StatusCode, rate(r))
	}
	// alice's count says one left; Fitbit says none: its 429 blocks her.
	if r := call("alice"); r.StatusCode != 429 || r.Header.Get("Retry-After") != "2670" {
		t.Fatalf("alice past Fitbit's budget: %d %v", r.StatusCode, r.Header)
	}
	// The operator hears of it once, at the 429.
	evs := takeEvents()
	wantEvent(t, evs, "rate_limited", map[string]any{"provider": "fitbit", "identity_hash": tokenstore.IdentityHash("alice")})
	if until, err := time.Parse(time.RFC3339, evs[0].Data["until"].(string)); err != nil || time.Until(until)-2670*time.Second > time.Second || time.Until(until)-2670*time.Second < -5*time.Second {
		t.Errorf("until %v (%v), want Fitbit's reset, 2670 s after the 429 (the gateway's clock)", evs[0].Data["until"], err)
	}
	for range 3 {
		r := call("alice")
		if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" || rate(r) == "  " {
			t.Fatalf("during Fitbit's block: %d %v", r.StatusCode, r.Header)
		}
	}
	// bob's count knows Fitbit's: the gateway refuses him itself.
	if r := call("bob"); r.StatusCode != 429 {
		t.Fatalf("bob past the budget: %d", r.StatusCode)
	}
	if evs := takeEvents(); len(evs) != 0 {
		t.Errorf("events of the gateway's own 429s: %+v", evs)
	}
	if st := sim.Stats(); st.API429 != 1 || st.APIRequests != 4 {
		t.Fatalf("Fitbit saw %d calls and answered %d with 429; want 4 and 1", st.APIRequests, st.API429)
	}

	resp, err := http.Get("http://localhost:2999/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`caddy_fitbit_rate_limited_total{by="upstream",provider="fitbit"}`, `caddy_fitbit_proxied_requests_total{outcome="rate_limited",provider="fitbit"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
