package command

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/caddy-fitbit/caddy-fitbit/module"

	"github.com/caddy-fitbit/caddy-fitbit/internal/admintest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/module"
)

// run runs `caddy fitbit args…` in-process, with stdin, and returns its
// output and error.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := New()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestIdentityHashIsTheStorageKey(t *testing.T) {
	out, err := run(t, "", "identity-hash", "alice@example.com")
	if err != nil || strings.TrimSpace(out) != tokenstore.IdentityHash("alice@example.com") {
		t.Fatalf("%q %v", out, err)
	}
}

// The commands against a real Caddy admin endpoint, in front of the
// simulated Google.
func TestCommandsAgainstTheAdminAPI(t *testing.T) {
	sim, err := googlesim.Start(googlesim.Config{RateLimitPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	addr := admintest.Start(t, map[string]any{"fitbit": admintest.GoogleHealthApp(sim)})
	tr := sim.MintTokens(googlesim.DefaultUserID)
	good := `{"identity":"alice","provider":"google_health","refresh_token":"` + tr.RefreshToken + `","user_id":"` + googlesim.DefaultUserID + `"}`
	file := filepath.Join(t.TempDir(), "users.jsonl")
	lines := good + "\n" + `{"identity":"bob","refresh_token":"bad-token"}` + "\n" + `{"identity":"carol","refresh_token":"` + strings.Repeat("x", module.MaxImportLine) + `"}` + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	hash := tokenstore.IdentityHash("alice")
	var all strings.Builder

	out, err := run(t, "", "--address", addr, "import", "--file", file, "--dry-run")
	all.WriteString(out)
	if err == nil || !strings.Contains(out, "line 1: ok google_health/"+hash) || !strings.Contains(out, "line 2: failed") ||
		!strings.Contains(out, "line 3: failed: line longer than") || !strings.Contains(out, "3 lines: 1 ok, 0 not checked, 2 failed (dry run") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if _, err := run(t, "", "--address", addr, "connections", "show", "alice"); err != nil {
		t.Fatal(err)
	}

	out, err = run(t, good+"\n", "--address", addr, "import")
	all.WriteString(out)
	if err != nil || !strings.Contains(out, "line 1: ok") || !strings.Contains(out, "1 lines: 1 ok") {
		t.Fatalf("import from stdin: %v\n%s", err, out)
	}
	out, err = run(t, good+"\n", "--address", addr, "import")
	if err == nil || !strings.Contains(out, "already") {
		t.Fatalf("import over a connection: %v\n%s", err, out)
	}

	out, err = run(t, "", "--address", addr, "connections", "list")
	if err != nil || !strings.Contains(out, "IDENTITY_HASH") || !strings.Contains(out, hash) || strings.Contains(out, "more:") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err = run(t, "", "--address", addr, "connections", "list", "--needs-reauth"); err != nil || strings.Contains(out, hash) {
		t.Fatalf("list --needs-reauth: %v\n%s", err, out)
	}

	out, err = run(t, "", "--address", addr, "connections", "show", "alice")
	all.WriteString(out)
	if err != nil || !strings.Contains(out, `"identity_hash": "`+hash) || !strings.Contains(out, `"health": "ok"`) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	out, err = run(t, "", "--address", addr, "connections", "refresh", "alice", "--provider", "google_health")
	all.WriteString(out)
	if err != nil || !strings.Contains(out, `"refreshed_at"`) {
		t.Fatalf("refresh: %v\n%s", err, out)
	}
	out, err = run(t, "", "--address", addr, "connections", "disconnect", hash)
	all.WriteString(out)
	if err != nil || !strings.Contains(out, `"revoked": true`) {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	if out, err = run(t, "", "--address", addr, "connections", "refresh", "alice"); err == nil || !strings.Contains(err.Error(), "no connection") {
		t.Fatalf("refresh after disconnect: %v\n%s", err, out)
	}

	// check and rekey print the instance's summary (progress goes to a
	// terminal only).
	out, err = run(t, "", "--address", addr, "check")
	all.WriteString(out)
	if err != nil || !strings.Contains(out, `"summary": true`) || !strings.Contains(out, `"done": true`) {
		t.Fatalf("check: %v\n%s", err, out)
	}
	out, err = run(t, "", "--address", addr, "rekey")
	all.WriteString(out)
	if err != nil || !strings.Contains(out, `"summary": true`) || !strings.Contains(out, `"done": true`) {
		t.Fatalf("rekey: %v\n%s", err, out)
	}
	if strings.Contains(all.String(), tr.RefreshToken) || strings.Contains(all.String(), "bad-token") {
		t.Errorf("a token was printed:\n%s", all.String())
	}
}
