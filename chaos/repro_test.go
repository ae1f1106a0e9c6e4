package chaos

// Minimal reproductions of the gateway defects the chaos suite found, kept
// as regression tests (skipped with -short):
//
//	go test -v -run Repro ./chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func reproGate(t *testing.T) {
	if testing.Short() {
		t.Skip("regression test of a fixed defect; takes ~10 s")
	}
}

func reproStore(t *testing.T, dir string) *storagestore.Store {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys, err := tokenstore.ParseKeys([]string{base64.StdEncoding.EncodeToString(key)})
	if err != nil {
		t.Fatal(err)
	}
	return storagestore.New(&certmagic.FileStorage{Path: dir}, keys, "fitbit")
}

// A request's Refresh that joins the recovery sweep's singleflight for the
// same connection, while the sweep cannot get the connection's lock (another
// instance holds it), gets neither an entry nor an error; the transport then
// calls Authorization() on the nil entry and the handler panics (the chaos
// suite sees "http: panic serving … (*entry).Authorization").
func TestReproRefreshJoiningIdleSweepReturnsNil(t *testing.T) {
	reproGate(t)
	dir := t.TempDir()
	here, peer := reproStore(t, dir), reproStore(t, dir) // two instances on one store
	ctx := context.Background()
	key := tokenstore.KeyOf("fitbit", "alice")
	rec := &tokenstore.Record{
		Provider: key.Provider, IdentityHash: key.IdentityHash, UserID: "ALICE1",
		AccessToken: "old-access", RefreshToken: "old-refresh", TokenType: "Bearer",
		Expiry: time.Now().Add(-time.Minute), Status: tokenstore.StatusOK,
		Refreshing: &tokenstore.RefreshMarker{Since: time.Now(), TokenHash: tokenstore.TokenHash("old-refresh"), Instance: "dead/1"},
	}
	if err := here.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	lock, err := peer.LockConnection(ctx, key) // the peer is mid-refresh
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock(ctx)

	reg := provider.Registration{ClientID: "23ABCD", ClientSecret: "s", RedirectURL: "http://localhost/cb",
		Endpoints: provider.Endpoints{TokenURL: "http://127.0.0.1:1/oauth2/token"}}.WithDefaults(provider.Fitbit)
	m := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: here, Skew: time.Second})
	go func() { _, _ = m.RecoverUnfinished(ctx, 2*time.Second) }() // gives up after 2 s: "someone is at it"
	time.Sleep(300 * time.Millisecond)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e, err := m.Refresh(rctx, "alice", nil) // no entry held: the stored pair is expired and mid-refresh either way
	if e == nil && err == nil {
		t.Fatal("Manager.Refresh returned (nil, nil) after sharing the recovery sweep's flight; inject.Transport dereferences the nil entry (panic)")
	}
	t.Logf("Refresh: entry %v, err %v", e != nil, err)
}

// lockHolderEnv makes the test binary a second gateway instance that takes
// a connection lock on the store in that directory and waits to be killed.
const lockHolderEnv = "CHAOS_REPRO_LOCK_HOLDER"

func init() {
	dir := os.Getenv(lockHolderEnv)
	if dir == "" {
		return
	}
	keys, _ := tokenstore.ParseKeys([]string{base64.StdEncoding.EncodeToString(make([]byte, 32))})
	store := storagestore.New(&certmagic.FileStorage{Path: dir}, keys, "fitbit")
	if _, err := store.LockConnection(context.Background(), tokenstore.KeyOf("fitbit", "alice")); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	select {} // until SIGKILL
}

// Instance B takes and releases a connection lock; within 5 s instance A
// takes it and is SIGKILLed. certmagic's FileStorage keeps a lock file fresh
// from a goroutine started per acquisition that runs until the FILE is gone,
// whoever owns it now: B's leftover goroutine adopts A's lock and keeps it
// fresh, so it never goes stale and nobody can take it over while B lives.
// In the chaos suite: requests of that identity hang until their timeout
// (the gateway answers 504 after the client's 40 s), the recovery sweep never
// recovers A's unfinished refresh, until B itself restarts.
func TestReproDeadInstanceLockKeptFreshByPeer(t *testing.T) {
	reproGate(t)
	dir := t.TempDir()
	b := reproStore(t, dir)
	ctx := context.Background()
	key := tokenstore.KeyOf("fitbit", "alice")
	lock, err := b.LockConnection(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	if os.Getenv("CHAOS_REPRO_CONTROL") != "" {
		// Control: once B's goroutine has seen its own lock file gone
		// (it polls every 5 s), A's lock goes stale as promised.
		time.Sleep(6 * time.Second)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+dir)
	cmd.SysProcAttr = sysProcAttr()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		_ = cmd.Process.Kill()
		t.Fatalf("lock holder: %q", line)
	}
	_ = cmd.Process.Kill() // instance A dies holding the lock
	_ = cmd.Wait()
	killed := time.Now()

	lctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	lock, err = b.LockConnection(lctx, key)
	if err != nil {
		t.Fatalf("the dead instance's lock was still not taken over %v after it died (stale after ~10 s is promised): %v",
			time.Since(killed).Round(time.Second), err)
	}
	_ = lock.Unlock(ctx)
	t.Logf("took the dead instance's lock over after %v", time.Since(killed).Round(time.Second))
}
