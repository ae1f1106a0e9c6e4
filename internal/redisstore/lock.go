package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bsm/redislock"
)

// lock is a held connection lock with a goroutine that renews its lease.
type lock struct {
	s   *Store
	l   *redislock.Lock
	ttl time.Duration

	lost     chan struct{} // closed when the lease is (or may be) gone
	lostOnce sync.Once
	stop     chan struct{} // closed to stop the renewer
	stopOnce sync.Once
	done     chan struct{} // closed when the renewer has returned
	unlock   sync.Once
}

// newLock starts renewing l, obtained by a request sent at obtained.
func newLock(s *Store, l *redislock.Lock, obtained time.Time) *lock {
	lk := &lock{
		s: s, l: l, ttl: s.lockTTL,
		lost: make(chan struct{}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go lk.renew(obtained)
	return lk
}

// Lost implements tokenstore.Lock.
func (lk *lock) Lost() <-chan struct{} { return lk.lost }

func (lk *lock) markLost() { lk.lostOnce.Do(func() { close(lk.lost) }) }

// renew refreshes the lease every ttl/3. A refresh that finds the lock no
// longer ours marks it lost at once. A refresh that fails otherwise (network,
// server down) is retried every ttl/10 until the lease, counted from when the
// last successful request was sent, may have run out; then it is marked lost.
func (lk *lock) renew(validFrom time.Time) {
	defer close(lk.done)
	interval := lk.ttl / 3
	retry := max(lk.ttl/10, 10*time.Millisecond)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-lk.stop:
			return
		case <-timer.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		err := lk.l.Refresh(ctx, lk.ttl, nil)
		cancel()
		switch {
		case err == nil:
			validFrom = sent
			timer.Reset(interval)
		case errors.Is(err, redislock.ErrNotObtained):
			lk.markLost()
			return
		default:
			if time.Now().Add(retry).After(validFrom.Add(lk.ttl)) {
				lk.markLost()
				return
			}
			timer.Reset(retry)
		}
	}
}

// stopRenewing stops the renewer and waits for it.
func (lk *lock) stopRenewing() {
	lk.stopOnce.Do(func() { close(lk.stop) })
	<-lk.done
}

// Unlock implements tokenstore.Lock. It stops the renewal and releases the
// lock, even if ctx is already cancelled. Calls after the first return nil.
// Releasing a lock whose lease was lost returns an error saying so (the
// release then deletes nothing: the lock may be someone else's).
func (lk *lock) Unlock(ctx context.Context) error {
	var err error
	lk.unlock.Do(func() {
		lk.stopRenewing()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if rerr := lk.l.Release(rctx); errors.Is(rerr, redislock.ErrLockNotHeld) {
			lk.markLost()
			err = fmt.Errorf("redisstore: unlocking %s: the lease had already expired or been taken over", lk.l.Key())
		} else if rerr != nil {
			err = fmt.Errorf("redisstore: unlocking %s: %w", lk.l.Key(), rerr)
		}
	})
	return err
}
