package module

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// keepalive_idle: on by default at 30 days, off when negative (Caddyfile:
// off); purge_reauth_after: off unless set.
func TestKeepaliveSettings(t *testing.T) {
	for _, c := range []struct {
		idle caddy.Duration
		want time.Duration
	}{{0, 30 * 24 * time.Hour}, {-1, 0}, {caddy.Duration(48 * time.Hour), 48 * time.Hour}} {
		if got := (&App{KeepaliveIdle: c.idle}).keepaliveIdle(); got != c.want {
			t.Errorf("keepalive_idle %v: %v, want %v", time.Duration(c.idle), got, c.want)
		}
	}
	st := &state{}
	if k := st.keeper(settings{}); k.Idle != 0 || k.PurgeAfter != 0 {
		t.Errorf("keeper of zero settings: %+v", k)
	}
}
