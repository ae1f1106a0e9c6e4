package module

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage"
)

// cache_sync_interval must stay within what the stores' change feeds can
// serve: the file-system feed looks back only about 30 s.
func TestCacheSyncIntervalValidated(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		ok       bool
	}{
		{0, true}, // the default
		{500 * time.Millisecond, true},
		{10 * time.Second, true},
		{11 * time.Second, false},
		{-time.Second, false},
	} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		a := &App{ProviderConfig: ProviderConfig{ClientID: "23ABCD", ClientSecret: "secret", RedirectURI: "https://gw.example/fitbit/callback"},
			EncryptionKeys:    []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
			StorageRaw:        []byte(`{"module":"file_system","root":"` + t.TempDir() + `"}`),
			CacheSyncInterval: caddy.Duration(tc.interval)}
		err := a.Provision(ctx)
		if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "cache_sync_interval") {
			t.Errorf("cache_sync_interval %v: %v", tc.interval, err)
		}
		if err == nil {
			_ = a.Cleanup()
		}
		cancel()
	}
}
