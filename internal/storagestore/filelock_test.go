package storagestore

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// A holder that died (its refresher stopped, its file left behind) loses the
// lock once the file is stale, and a peer that unlocked earlier never keeps
// the new holder's file fresh.
func TestFileLockStaleTakeover(t *testing.T) {
	fl := &fileLocks{dir: t.TempDir()}
	ctx := context.Background()
	a, err := fl.lock(ctx, "conn")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := fl.lock(ctx, "conn")
	if err != nil {
		t.Fatal(err)
	}
	// b dies: its refresher stops, the file stays; it was last refreshed
	// long ago.
	close(b.stop)
	<-b.done
	stale, _ := json.Marshal(fileLockMeta{Owner: b.owner, Updated: time.Now().Add(-fileLockStale - time.Second)})
	if err := os.WriteFile(b.path, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := fl.lock(lctx, "conn")
	if err != nil {
		t.Fatalf("a dead holder's stale lock was not taken over: %v", err)
	}
	defer c.Unlock(ctx)
	// The dead holder's Unlock (had it come back) must not remove c's file.
	ghost := &fileLock{path: b.path, owner: b.owner, stop: make(chan struct{}), lost: make(chan struct{}), done: make(chan struct{})}
	close(ghost.done)
	_ = ghost.Unlock(ctx)
	if m, ok := readLockMeta(c.path); !ok || m.Owner != c.owner {
		t.Fatal("the new holder's lock file was removed or replaced")
	}
}

func TestFileLockFreshIsNotTaken(t *testing.T) {
	fl := &fileLocks{dir: t.TempDir()}
	ctx := context.Background()
	a, err := fl.lock(ctx, "conn")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlock(ctx)
	lctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := fl.lock(lctx, "conn"); err == nil {
		t.Fatal("a held lock was taken")
	}
	select {
	case <-a.Lost():
		t.Fatal("holder reports the lock lost")
	default:
	}
}

func TestFileLockLostWhenTaken(t *testing.T) {
	fl := &fileLocks{dir: t.TempDir()}
	ctx := context.Background()
	a, err := fl.lock(ctx, "conn")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's lock file replaces a's (a paused past staleness).
	other, _ := json.Marshal(fileLockMeta{Owner: "someone-else", Updated: time.Now()})
	if err := os.WriteFile(a.path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
	case <-time.After(3 * fileLockRefresh):
		t.Fatal("Lost not closed")
	}
	if err := a.Unlock(ctx); err == nil {
		t.Fatal("Unlock of a lost lock reported success")
	}
	if m, ok := readLockMeta(a.path); !ok || m.Owner != "someone-else" {
		t.Fatal("a lost holder removed the new holder's file")
	}
}
