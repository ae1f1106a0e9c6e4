package authserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
)

// An app's own access token lifetime replaces Fitbit's 8 hours, at the
// code exchange and at every refresh, and the token expires after it.
func TestAppAccessTTL(t *testing.T) {
	h := newHarness(t)
	a := h.srv.Apps[phoneApp]
	a.AccessTTL = 90 * time.Second
	h.srv.Apps[phoneApp] = a
	tk := h.exchangePhone(h.authorize(phoneAuthorize()))
	if tk.ExpiresIn != 90 {
		t.Fatalf("expires_in %d, want 90", tk.ExpiresIn)
	}
	if _, ae := h.call(tk.AccessToken); ae != nil {
		t.Fatal(ae)
	}
	h.advance(90 * time.Second)
	h.callRefused(tk.AccessToken, apierror.ExpiredToken)
	next := h.ok(h.refresh(phoneApp, "", tk.RefreshToken))
	if next.ExpiresIn != 90 {
		t.Fatalf("refreshed expires_in %d, want 90", next.ExpiresIn)
	}
	if _, ae := h.call(next.AccessToken); ae != nil {
		t.Fatal(ae)
	}
}

func TestAppAccessTTLValidate(t *testing.T) {
	base := authserver.App{ID: "23PHN2", Type: authserver.ClientApp, RedirectURIs: []string{"com.example.app:/cb"}}
	for ttl, ok := range map[time.Duration]bool{0: true, time.Second: true, 10 * time.Minute: true,
		-time.Second: false, 500 * time.Millisecond: false, 1500 * time.Millisecond: false} {
		a := base
		a.AccessTTL = ttl
		err := a.Validate()
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "lifetime")) {
			t.Errorf("AccessTTL %v: %v", ttl, err)
		}
	}
}
