//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// TestMain runs the e2e tests under a lock held across the machine: they
// listen on fixed ports (the site on 9080, Caddy's admin endpoint on 2999),
// so two runs at once (two checkouts, two sessions) would reach each
// other's Caddy and fail for no fault of either. The second run waits.
func TestMain(m *testing.M) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "caddy-fitbit-e2e.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX) // released when the process exits
	}
	code := m.Run()
	runtime.KeepAlive(f) // an unreachable *os.File is closed by its finalizer, which would drop the lock
	os.Exit(code)
}
