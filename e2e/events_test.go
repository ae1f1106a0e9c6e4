package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func init() { caddy.RegisterModule(eventRecorder{}) }

// eventRecorder is an events handler (events.handlers.e2e_record) that
// keeps the events it is given, as an operator's hook would see them.
type eventRecorder struct{}

var recorded struct {
	sync.Mutex
	events []recordedEvent
}

type recordedEvent struct {
	Name, Origin string
	Data         map[string]any
}

func (eventRecorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "events.handlers.e2e_record", New: func() caddy.Module { return new(eventRecorder) }}
}

func (eventRecorder) Handle(_ context.Context, e caddy.Event) error {
	origin := ""
	if o := e.Origin(); o != nil {
		origin = string(o.CaddyModule().ID)
	}
	recorded.Lock()
	defer recorded.Unlock()
	recorded.events = append(recorded.events, recordedEvent{Name: e.Name(), Origin: origin, Data: e.Data})
	return nil
}

func (*eventRecorder) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	return nil
}

// takeEvents returns the events recorded since the last call.
func takeEvents() []recordedEvent {
	recorded.Lock()
	defer recorded.Unlock()
	ev := recorded.events
	recorded.events = nil
	return ev
}

const eventsOption = `events {
		on connected e2e_record
		on needs_reauth e2e_record
		on disconnected e2e_record
		on provider_gone e2e_record
		on rate_limited e2e_record
	}`

// wantEvent fails unless evs is exactly one event of name from the fitbit
// app whose data has want's values.
func wantEvent(t *testing.T, evs []recordedEvent, name string, want map[string]any) {
	t.Helper()
	if len(evs) != 1 || evs[0].Name != name || evs[0].Origin != "fitbit" {
		t.Fatalf("want one %s event from fitbit, got %+v", name, evs)
	}
	for k, v := range want {
		if evs[0].Data[k] != v {
			t.Errorf("%s event: %s = %v, want %v (data %v)", name, k, evs[0].Data[k], v, evs[0].Data)
		}
	}
}

// TestEventsAndAuditLog: an operator's events handler hears of each
// connection, refresh token refused, disconnection and provider shutdown
// as it happens (caddyevents handlers run synchronously, so before the
// answer), and the audit log, the fitbit.audit logger, records who
// connected and disconnected from where, without a token.
func TestEventsAndAuditLog(t *testing.T) {
	takeEvents()
	e := newEnv(t, options{Global: eventsOption})
	alice := tokenstore.IdentityHash("alice")

	e.mustConnect("alice")
	wantEvent(t, takeEvents(), "connected", map[string]any{"provider": "fitbit", "identity_hash": alice, "user_id": "ALICE1", "previous": ""})

	e.sim.RevokeUser("ALICE1")
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "reauthorization_required" {
		t.Fatalf("after revocation: %d %v", code, m)
	}
	wantEvent(t, takeEvents(), "needs_reauth", map[string]any{"provider": "fitbit", "identity_hash": alice, "user_id": "ALICE1"})

	e.sim.SetConsent(func(*http.Request, []string) fitbitConsent { return fitbitConsent{UserID: "ALICE1"} })
	e.mustConnect("alice")
	wantEvent(t, takeEvents(), "connected", map[string]any{"identity_hash": alice, "previous": "needs_reauth"})

	if resp, body := e.do(e.app("alice"), "POST", "/fitbit/disconnect", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, body)
	}
	wantEvent(t, takeEvents(), "disconnected", map[string]any{"provider": "fitbit", "identity_hash": alice, "user_id": "ALICE1", "previous": "ok"})

	e.mustConnect("alice")
	takeEvents()
	e.sim.SetGone(true)
	for range 2 { // told once, not per call
		if code, m := e.get("alice", "/1/user/-/profile.json"); code != 410 || errorType(m) != "provider_gone" {
			t.Fatalf("gone: %d %v", code, m)
		}
	}
	evs := takeEvents()
	wantEvent(t, evs, "provider_gone", map[string]any{"provider": "fitbit"})
	if _, err := time.Parse(time.RFC3339, evs[0].Data["since"].(string)); err != nil {
		t.Errorf("since is not RFC 3339: %v", err)
	}

	// A declined consent is no event, but counted.
	e.sim.SetGone(false)
	e.sim.SetConsent(func(*http.Request, []string) fitbitConsent { return fitbitConsent{Deny: true} })
	if resp, body := e.connect("bob"); !strings.Contains(body, "Not connected") {
		t.Fatalf("denied consent: %d %s", resp.StatusCode, body)
	}
	if evs := takeEvents(); len(evs) != 0 {
		t.Errorf("events of a denial: %+v", evs)
	}
	metrics := scrape(t)
	for _, want := range []string{`caddy_fitbit_connects_total{provider="fitbit"}`, `caddy_fitbit_disconnects_total{provider="fitbit"}`,
		`caddy_fitbit_denials_total{provider="fitbit"}`, `caddy_fitbit_proxied_requests_total{outcome="needs_reauth",provider="fitbit"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	lines := auditLines(t, filepath.Join(e.dir, "caddy.log"))
	var actions []string
	for _, l := range lines {
		actions = append(actions, l["action"].(string))
		if l["identity_hash"] != alice || l["provider"] != "fitbit" || l["client_ip"] == "" || l["user_agent"] != "Go-http-client/1.1" {
			t.Errorf("audit line %v", l)
		}
	}
	if want := []string{"connect", "connect", "disconnect", "connect"}; !slices.Equal(actions, want) {
		t.Errorf("audited %v, want %v", actions, want)
	}
	if d := lines[2]; d["result"] != "revoked" || d["user_id"] != "ALICE1" {
		t.Errorf("disconnect audit line %v", d)
	}
	if found := secretsIn(t, e.dir, e.sim.IssuedSecrets()); len(found) > 0 {
		t.Fatalf("secrets in the logs or storage: %v", found)
	}
}

// auditLines are the log entries of the fitbit.audit logger in the file.
func auditLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["logger"] == "fitbit.audit" {
			lines = append(lines, m)
		}
	}
	return lines
}

// scrape reads the admin endpoint's metrics.
func scrape(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://localhost:2999/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(simtest.Do(t, req).Body)
}
