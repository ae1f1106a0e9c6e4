package redisstore

import (
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// PauseRenewal stops l's lease renewal without releasing it, as if its
// process were paused (a long GC or SIGSTOP): the lease then runs out.
func PauseRenewal(l tokenstore.Lock) { l.(*lock).stopRenewing() }

// SaveScript is the compare-and-set script, for tests of its semantics.
var SaveScript = saveScript

// SetObtainRound shortens the polling round of LockConnection for a test.
func SetObtainRound(d time.Duration) (restore func()) {
	old := obtainRound
	obtainRound = d
	return func() { obtainRound = old }
}
