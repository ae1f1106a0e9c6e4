package storagestore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fileLocks are connection locks for a store on certmagic.FileStorage.
//
// certmagic's own FileStorage locks keep a lock file fresh from a goroutine
// that checks only that the file exists, not whose it is: after an unlock,
// if another process takes the same lock within the 5 s refresh interval,
// the first process's goroutine adopts the new lock file and keeps it fresh
// for as long as the first process lives — so when the new holder dies, its
// lock never goes stale and the connection is stuck. These locks carry an
// owner token; only the owner refreshes or removes its file, the refresher
// stops at Unlock, and a holder that finds its file gone or taken reports
// the lock lost. They also poll faster than certmagic's one second.
type fileLocks struct {
	dir string
}

const (
	fileLockRefresh = 2 * time.Second  // how often a holder refreshes its lock file
	fileLockStale   = 10 * time.Second // a lock file older than this belongs to a dead holder
	fileLockPoll    = 100 * time.Millisecond
)

type fileLockMeta struct {
	Owner   string    `json:"owner"`
	Updated time.Time `json:"updated"`
}

type fileLock struct {
	path  string
	owner string
	stop  chan struct{}
	lost  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// lock blocks until it holds the lock name or ctx is done.
func (fl *fileLocks) lock(ctx context.Context, name string) (*fileLock, error) {
	if err := os.MkdirAll(fl.dir, 0o700); err != nil {
		return nil, fmt.Errorf("tokenstore: lock directory: %w", err)
	}
	owner := make([]byte, 16)
	_, _ = crand.Read(owner)
	l := &fileLock{path: filepath.Join(fl.dir, name+".lock"), owner: hex.EncodeToString(owner),
		stop: make(chan struct{}), lost: make(chan struct{}), done: make(chan struct{})}
	for {
		ok, err := l.tryCreate()
		if err != nil {
			return nil, err
		}
		if ok {
			go l.keepFresh()
			return l, nil
		}
		l.removeIfStale()
		wait := fileLockPoll/2 + rand.N(fileLockPoll)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// tryCreate makes the lock file if there is none.
func (l *fileLock) tryCreate() (bool, error) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenstore: creating lock file: %w", err)
	}
	err = json.NewEncoder(f).Encode(fileLockMeta{Owner: l.owner, Updated: time.Now()})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(l.path)
		return false, fmt.Errorf("tokenstore: writing lock file: %w", err)
	}
	return true, nil
}

// read returns the lock file's metadata; ok is false if it is missing or
// not (yet) readable.
func readLockMeta(path string) (fileLockMeta, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return fileLockMeta{}, false
	}
	var m fileLockMeta
	if json.Unmarshal(b, &m) != nil {
		return fileLockMeta{}, false
	}
	return m, true
}

// removeIfStale deletes a lock file whose holder stopped refreshing it. A
// file that cannot be read yet is judged by its modification time, so a
// holder that crashed mid-write does not block forever.
func (l *fileLock) removeIfStale() {
	updated := time.Time{}
	if m, ok := readLockMeta(l.path); ok {
		updated = m.Updated
	} else if info, err := os.Stat(l.path); err == nil {
		updated = info.ModTime()
	} else {
		return
	}
	if time.Since(updated) > fileLockStale {
		// Rename first: of several waiters, one wins the rename; then check
		// that what it took is still the stale file, not a fresh lock.
		tmp := l.path + ".stale." + l.owner
		if os.Rename(l.path, tmp) != nil {
			return
		}
		if m, ok := readLockMeta(tmp); ok && time.Since(m.Updated) <= fileLockStale {
			_ = os.Rename(tmp, l.path) // a fresh lock after all: put it back
			return
		}
		_ = os.Remove(tmp)
	}
}

// keepFresh refreshes the lock file while held; it stops at Unlock, and
// reports the lock lost if the file is gone or someone else's.
func (l *fileLock) keepFresh() {
	defer close(l.done)
	t := time.NewTicker(fileLockRefresh)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		m, ok := readLockMeta(l.path)
		if !ok || m.Owner != l.owner {
			close(l.lost)
			return
		}
		m.Updated = time.Now()
		b, _ := json.Marshal(m)
		tmp := l.path + ".fresh." + l.owner
		if os.WriteFile(tmp, b, 0o600) != nil || os.Rename(tmp, l.path) != nil {
			_ = os.Remove(tmp)
		}
	}
}

// Lost implements tokenstore.Lock.
func (l *fileLock) Lost() <-chan struct{} { return l.lost }

// Unlock implements Lock: it stops the refresher and removes the lock file
// if it is still this holder's.
func (l *fileLock) Unlock(context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		select {
		case <-l.lost:
			err = errors.New("tokenstore: the connection lock was lost before unlock")
			return
		default:
		}
		if m, ok := readLockMeta(l.path); ok && m.Owner == l.owner {
			err = os.Remove(l.path)
		}
	})
	return err
}

// sleep waits for d, or until ctx is done (its error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
