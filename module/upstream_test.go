package module

import (
	"context"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"
)

func TestUpstreamPolicy(t *testing.T) {
	p, err := newUpstreamPolicy("https://API.fitbit.com", []string{"egress.internal", "127.0.0.1:8443", "[::1]"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, port string
		want       bool
	}{
		{"api.fitbit.com", "443", true},
		{"api.fitbit.com", "80", false}, // another service on the API's host
		{"api.fitbit.com.evil.example", "443", false},
		{"egress.internal", "3128", true}, // a host: any port
		{"127.0.0.1", "8443", true},
		{"127.0.0.1", "8444", false}, // host:port: that port only
		{"::1", "9000", true},
		{"", "443", false},
	} {
		if got := p.allows(c.host, c.port); got != c.want {
			t.Errorf("allows(%q, %q) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
	// Outside Caddy's reverse proxy (no dial info), the URL says.
	for url, want := range map[string]bool{
		"https://api.fitbit.com/1/user/-/profile.json":      true,
		"http://api.fitbit.com/1/user/-/profile.json":       false,
		"https://api.fitbit.com:8443/1/user/-/profile.json": false,
	} {
		r := httptest.NewRequestWithContext(context.Background(), "GET", url, nil)
		if got := p.request(r); got != want {
			t.Errorf("request to %s allowed = %v, want %v", url, got, want)
		}
	}
	for _, bad := range []string{"", "https://api.example", "*", "host:0", "host:x", "::1", "{env.HOST}", "a b"} {
		if _, err := parseAllowed(bad); err == nil {
			t.Errorf("allow_upstream %q accepted", bad)
		}
	}
}
