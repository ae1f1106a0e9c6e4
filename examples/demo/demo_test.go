package main

import (
	"bytes"
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// TestDemoWalkthrough runs the whole demo in-process, as
// `go run ./examples/demo -exit-after-walkthrough` does, and checks that it
// succeeds — the Fitbit steps and the Google Health bridge — and that no code
// or token of either simulator ever reaches its output, Caddy's log or the
// storage in plaintext. It is the only test here that starts Caddy, which
// is a process-wide singleton.
func TestDemoWalkthrough(t *testing.T) {
	dataDir := t.TempDir()
	var out bytes.Buffer
	var sim *fitbitsim.Server
	var google *googlesim.Server
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	err := run(ctx, options{
		Listen:               freeLoopbackAddr(t),
		DataDir:              dataDir,
		TokenLifetime:        2 * time.Minute,
		Walkthrough:          true,
		ExitAfterWalkthrough: true,
		Out:                  &out,
		onSim:                func(s *fitbitsim.Server) { sim = s },
		onGoogle:             func(g *googlesim.Server) { google = g },
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{
		"not_connected", "page: Connected", "Fitbit refresh counter: 0 → 1",
		// the bridge
		"→ Google /o/oauth2/v2/auth → /fitbit/callback",
		"ids.legacy_user_id=DEMO01",
		"healthUserId=" + googleUser(1) + " legacyUserId=DEMO01",
		"POST /v4/users/me/dataTypes/steps/dataPoints:dailyRollUp → 200 OK",
		"Google refresh counter: 0 → 1",
		"refresh tokens issued by refreshes: 0",
		// Fitbit calls answered from Google: bob (Google only), then
		// alice after Fitbit's shutdown.
		"Fitbit's profile JSON, answered from Google Health: user.encodedId=DEMO02",
		"GET /1/user/-/activities/date/today.json     → 200 OK\n     Fitbit's daily summary, answered from Google Health",
		"answered from alice's Google Health connection instead (Gateway-Google-Calls: ",
		`"errorType":"not_available_from_successor"`,
		"health=provider_gone",
		"Walkthrough complete",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if os.Getenv(keyEnv) != "" {
		t.Errorf("%s still set after run", keyEnv)
	}
	assertNoSecrets(t, sim.IssuedSecrets(), out.Bytes(), dataDir)
	if st := google.Stats(); st.CodeExchanges != 2 || st.Refreshes != 1 || st.InvalidGrants != 0 {
		t.Errorf("simulated Google: %+v; want 2 code exchanges (alice, bob), 1 refresh, no invalid_grant", st)
	}
	assertNoSecrets(t, google.IssuedSecrets(), out.Bytes(), dataDir)
}

// assertNoSecrets fails if any secret appears in output or a file under dir.
func assertNoSecrets(t *testing.T, secrets []string, output []byte, dir string) {
	t.Helper()
	if len(secrets) == 0 {
		t.Fatal("the simulator issued no secrets; the walkthrough did not connect")
	}
	blobs := map[string][]byte{"output": output}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			blobs[path] = b
		}
		return nil
	})
	for name, b := range blobs {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds an issued code or token in plaintext", name)
			}
		}
	}
}

func TestParseListen(t *testing.T) {
	for listen, ok := range map[string]bool{
		"localhost:8080": true, "127.0.0.1:9000": true, "[::1]:8080": true, ":8080": true,
		"0.0.0.0:8080": false, "192.0.2.1:8080": false, "example.com:80": false, "localhost": false, "localhost:0": false,
	} {
		gw, err := parseListen(listen)
		if (err == nil) != ok {
			t.Errorf("parseListen(%q) = %+v, %v; want ok=%v", listen, gw, err, ok)
		}
	}
	gw, _ := parseListen("localhost:8080")
	if gw.base != "http://localhost:8080" || gw.bind != "127.0.0.1" {
		t.Errorf("parseListen(localhost:8080) = %+v", gw)
	}
}

func TestRefreshSkew(t *testing.T) {
	for lifetime, want := range map[time.Duration]time.Duration{
		2 * time.Minute: 30 * time.Second, 8 * time.Hour: 30 * time.Second, time.Minute: 15 * time.Second,
	} {
		if got, err := refreshSkew(lifetime); err != nil || got != want || got >= lifetime {
			t.Errorf("refreshSkew(%s) = %s, %v; want %s", lifetime, got, err, want)
		}
	}
	if _, err := refreshSkew(time.Second); err == nil {
		t.Error("refreshSkew(1s): want an error")
	}
}

// freeLoopbackAddr returns 127.0.0.1:<a port that was free a moment ago>.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
