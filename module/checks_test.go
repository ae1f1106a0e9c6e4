package module

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
)

func TestCheckCallbacks(t *testing.T) {
	reg := func(name, uri string) provider.Registration {
		return provider.Registration{Name: name, RedirectURL: uri}.WithDefaults(provider.Fitbit)
	}
	regs := []provider.Registration{reg("fitbit", "https://gw.example/fitbit/callback"), reg("google_health", "https://gw.example/connect/callback")}
	if checked, err := checkCallbacks(regs, []string{"/fitbit", "/connect"}); !checked || err != nil {
		t.Fatalf("served: %v %v", checked, err)
	}
	checked, err := checkCallbacks(regs, []string{"/fitbit"})
	if !checked || err == nil {
		t.Fatal("a redirect_uri no handler serves loaded")
	}
	for _, want := range []string{"provider google_health", "/connect/callback", "is not served by any fitbit_auth handler",
		"set redirect_uri to https://gw.example/fitbit/callback", "fitbit_auth /connect"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "provider fitbit:") {
		t.Errorf("error names the served registration: %q", err)
	}
	// No handler in this config: the callback may be another server's.
	if checked, err := checkCallbacks(regs, nil); checked || err != nil {
		t.Fatalf("no handlers: %v %v", checked, err)
	}
}

func TestLoadWarnings(t *testing.T) {
	ok := &App{ProviderConfig: ProviderConfig{ClientSecret: "{env.FITBIT_SECRET}", RedirectURI: "https://gw.example/fitbit/callback"},
		EncryptionKeys: []string{"{file./run/secrets/key}"}}
	local := []provider.Registration{
		provider.Registration{Name: "fitbit", RedirectURL: "https://gw.example/fitbit/callback"}.WithDefaults(provider.Fitbit),
		provider.Registration{Name: "dev", RedirectURL: "http://localhost:9080/fitbit/callback"}.WithDefaults(provider.Fitbit),
		provider.Registration{Name: "dev4", RedirectURL: "http://127.0.0.1:9080/fitbit/callback"}.WithDefaults(provider.Fitbit),
		provider.Registration{Name: "dev6", RedirectURL: "http://[::1]:9080/fitbit/callback"}.WithDefaults(provider.Fitbit),
	}
	if w := ok.loadWarnings(local); len(w) != 0 {
		t.Fatalf("warnings of a sound config: %q", w)
	}

	bad := &App{ProviderConfig: ProviderConfig{ClientID: "23ABCD", ClientSecret: "s3cr3t-inline"},
		EncryptionKeys:  []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "{env.OLD}"},
		RefreshSkew:     caddy.Duration(2 * time.Hour),
		OAuth2Apps:      []OAuth2App{{ClientID: "23WEB1", ClientSecret: "0123456789abcdef0123"}},
		OAuth1Consumers: []OAuth1Consumer{{Key: "legacy", Secret: "0123456789abcdef"}},
		Providers:       map[string]*Provider{"google_health": {ProviderConfig: ProviderConfig{ClientSecret: "{file./run/secrets/google}"}}}}
	regs := []provider.Registration{
		provider.Registration{Name: "fitbit", RedirectURL: "http://gw.example/fitbit/callback"}.WithDefaults(provider.Fitbit),
		provider.Registration{Name: "google_health", RedirectURL: "https://gw.example/fitbit/callback"}.WithDefaults(provider.GoogleHealth),
	}
	warns := strings.Join(bad.loadWarnings(regs), "\n")
	// What each warning is about, and the start of what it says.
	for about, says := range map[string]string{
		"skew":       "provider google_health: refresh_skew 2h0m0s is not shorter than Google Health's access token lifetime (1h0m0s)",
		"plain http": "provider fitbit: redirect_uri http://gw.example/fitbit/callback is plain http off loopback",
		"secret":     "provider fitbit: client_secret is written in the config",
		"key":        "encryption_keys[0] is written in the config",
		"oauth2 app": "oauth2 app 23WEB1: client_secret is written in the config",
		"oauth1 app": "oauth1 consumer legacy: its secret is written in the config",
	} {
		if !strings.Contains(warns, says) {
			t.Errorf("no warning of the %s: want %q in\n%s", about, says, warns)
		}
	}
	for _, never := range []string{"provider fitbit: refresh_skew", "encryption_keys[1]", "provider google_health: client_secret", "s3cr3t", "0123456789abcdef"} {
		if strings.Contains(warns, never) {
			t.Errorf("warnings hold %q:\n%s", never, warns)
		}
	}
}
