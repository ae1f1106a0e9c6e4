package redact

import (
	"strings"
	"testing"
)

const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiIyM1hYWFgiLCJzdWIiOiIyMkI3TkYiLCJpc3MiOiJGaXRiaXQifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

func TestScrub(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	cases := map[string]string{
		"Refresh token invalid: " + hex64 + ". Visit https://dev.fitbit.com/docs/oauth2 for more information": hex64,
		"Authorization code invalid: 1b2c3d4e5f Visit https://dev.fitbit.com/docs/oauth2":                     "1b2c3d4e5f",
		"Access token invalid: short.":   "short",
		"bearer " + jwt:                  jwt[:20],
		"key=" + strings.Repeat("A", 40): strings.Repeat("A", 40),
	}
	for in, secret := range cases {
		out := Scrub(in)
		if strings.Contains(out, secret) {
			t.Errorf("Scrub(%q) = %q still holds the secret", in, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("Scrub(%q) = %q: nothing redacted", in, out)
		}
	}
	if got := Scrub("Too Many Requests"); got != "Too Many Requests" {
		t.Errorf("innocent text changed: %q", got)
	}
}

func FuzzScrub(f *testing.F) {
	f.Add("Refresh token invalid: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef. Visit")
	f.Add("Access token expired: " + jwt)
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if strings.Contains(out, jwt) {
			t.Fatal("jwt survived")
		}
	})
}
