package module

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

func TestRateLimitsCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`fitbit {
		rate_limits {
			browser_per_ip 10 30s 5
			failures_per_token 3 1h
			max_pending_per_identity 2
		}
	}`)
	a := &App{}
	if err := a.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	rl := a.RateLimits
	if *rl.BrowserPerIP != (RateLimit{Events: 10, Period: caddy.Duration(30 * time.Second), Burst: 5}) ||
		*rl.FailuresPerToken != (RateLimit{Events: 3, Period: caddy.Duration(time.Hour)}) || rl.MaxPendingPerIdentity != 2 || rl.TokenPerIP != nil {
		t.Fatalf("parsed %+v", rl)
	}
	if err := rl.validate(); err != nil {
		t.Fatal(err)
	}
	// Unset limits keep their defaults.
	if got := rl.TokenPerIP.or(defaultTokenPerIP); got != defaultTokenPerIP {
		t.Fatalf("token_per_ip %v", got)
	}
	if got := rl.BrowserPerIP.or(defaultBrowserPerIP); got != (ratelimit.Limit{Events: 10, Period: 30 * time.Second, Burst: 5}) {
		t.Fatalf("browser_per_ip %v", got)
	}

	for line, want := range map[string]string{
		"browser_per_ip 10":                           "want <events> <period>",
		"browser_per_ip ten 1m":                       `events "ten"`,
		"token_per_ip 10 soon":                        `period "soon"`,
		"token_per_ip 10 1m 0":                        `burst "0"`,
		"per_moon 1 1m":                               `unknown option "per_moon"`,
		"max_pending_per_identity 0":                  "max_pending_per_identity takes one whole number",
		"}\nrate_limits extra {\nbrowser_per_ip 1 1m": "wrong argument count",
	} {
		src := "fitbit {\nrate_limits {\n" + line + "\n}\n}"
		if err := (&App{}).UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", line, err, want)
		}
	}
	bad := &RateLimits{TokenPerIP: &RateLimit{Events: 0, Period: caddy.Duration(time.Minute)}, MaxPendingPerIdentity: -1}
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "rate_limits.token_per_ip") || !strings.Contains(err.Error(), "max_pending_per_identity") {
		t.Fatalf("validate: %v", err)
	}
}
