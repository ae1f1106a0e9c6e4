// Package admintest runs real Caddy in-process with its admin endpoint on a
// free loopback port, for the tests of the admin API and of the commands
// that call it.
package admintest

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage" // the storage of Start's config

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// Start loads a config of apps into Caddy, with its admin endpoint on a free
// loopback port and file storage in a temporary directory, and returns the
// endpoint's address (host:port). Caddy is one per process: tests that use
// it must not run in parallel. The config is stopped when the test ends.
func Start(t testing.TB, apps map[string]any) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg, err := json.Marshal(map[string]any{
		"admin":   map[string]any{"listen": addr},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"storage": map[string]any{"module": "file_system", "root": t.TempDir()},
		"apps":    apps,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	return addr
}

// GoogleHealthApp is the config of a fitbit app whose one registration is
// Google Health, at sim.
func GoogleHealthApp(sim *googlesim.Server) map[string]any {
	return map[string]any{
		"encryption_keys": []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		"providers": map[string]any{"google_health": map[string]any{
			"client_id": sim.ClientID(), "client_secret": sim.ClientSecret(), "redirect_uri": "https://gw.example/fitbit/callback",
			"endpoints": map[string]any{"authorize_url": sim.AuthorizeURL(), "token_url": sim.TokenURL(), "revoke_url": sim.RevokeURL(), "api_base": sim.APIBase()},
		}},
	}
}
