package storagestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func newTestStore(t testing.TB, dir string, keys ...[]byte) (*Store, *certmagic.FileStorage) {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{testKey("store")}
	}
	fsys := &certmagic.FileStorage{Path: dir}
	return New(fsys, mustKeyring(t, keys...), ""), fsys
}

func samplePending(state, identity string, expires time.Time) *tokenstore.Pending {
	return &tokenstore.Pending{
		State:       state,
		Provider:    "fitbit",
		Identity:    identity,
		Verifier:    "pkce-verifier-" + state + "-0123456789abcdefghijklmnopqrstuvwxyz",
		ReturnTo:    "/app/done",
		BrowserHash: "4c5d6e7f",
		RedirectURI: "https://gw.example/fitbit/callback",
		Expires:     expires,
	}
}

func TestConnectionRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	rec := sampleRecord("alice")
	if err := st.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if rec.Version != 1 {
		t.Fatalf("version after first save = %d", rec.Version)
	}
	got, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	// The codec names the key that sealed it (never stored).
	if got.SealedBy == "" {
		t.Fatal("loaded record does not name the key that sealed it")
	}
	got.SealedBy = ""
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("loaded %s\nwant   %s", mustJSON(got), mustJSON(rec))
	}
	// One record per provider per identity; identities are separate.
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("google_health", "alice")); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("other provider: %v", err)
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "bob")); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("other identity: %v", err)
	}
	g := sampleRecord("alice")
	g.Provider = "google_health"
	if err := st.SaveConnection(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("google_health", "alice")); err != nil {
		t.Fatalf("other provider's record deleted too: %v", err)
	}
}

func TestVersionCompareAndSet(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	rec := sampleRecord("alice")
	rec.Version = 42
	if err := st.SaveConnection(ctx, rec); !errors.Is(err, tokenstore.ErrConflict) {
		t.Fatalf("first save claiming version 42: %v, want tokenstore.ErrConflict", err)
	}
	rec.Version = 0 // nothing stored yet
	for want := uint64(1); want <= 3; want++ {
		rec.AccessToken = fmt.Sprintf("access-%d", want)
		if err := st.SaveConnection(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if rec.Version != want {
			t.Fatalf("version = %d, want %d", rec.Version, want)
		}
	}
	got, _ := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice"))
	if got.Version != 3 || got.AccessToken != "access-3" {
		t.Fatalf("loaded version %d token %q", got.Version, got.AccessToken)
	}
	stale := got.Clone()
	stale.Version = 2
	if err := st.SaveConnection(ctx, stale); !errors.Is(err, tokenstore.ErrConflict) {
		t.Fatalf("stale save: %v, want tokenstore.ErrConflict", err)
	}

	// Of concurrent writers that read version 3, exactly one wins.
	var wg sync.WaitGroup
	var wins, conflicts atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := sampleRecord("alice")
			r.Version = 3
			switch err := st.SaveConnection(ctx, r); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, tokenstore.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("%d wins, %d conflicts; want 1 and 19", wins.Load(), conflicts.Load())
	}
	if got, _ := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); got.Version != 4 {
		t.Fatalf("version = %d, want 4", got.Version)
	}
}

func TestRefreshingIndex(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	if keys, err := st.ListRefreshing(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("empty store: %v %v", keys, err)
	}
	rec := sampleRecord("alice")
	if err := st.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Refreshing = &tokenstore.RefreshMarker{Since: time.Now(), TokenHash: tokenstore.TokenHash(rec.RefreshToken)}
	if err := st.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	keys, err := st.ListRefreshing(ctx)
	if err != nil || len(keys) != 1 || keys[0] != tokenstore.KeyOf("fitbit", "alice") {
		t.Fatalf("while refreshing: %v %v", keys, err)
	}
	got, _ := st.LoadConnection(ctx, keys[0])
	if got.Refreshing == nil || got.Refreshing.TokenHash != tokenstore.TokenHash(secretRefresh) {
		t.Fatalf("marker not stored: %+v", got.Refreshing)
	}
	rec.Refreshing = nil
	if err := st.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if keys, _ := st.ListRefreshing(ctx); len(keys) != 0 {
		t.Fatalf("after clearing: %v", keys)
	}
	// Deleting a marked connection drops its index entry too.
	rec.Refreshing = &tokenstore.RefreshMarker{Since: time.Now()}
	_ = st.SaveConnection(ctx, rec)
	_ = st.DeleteConnection(ctx, tokenstore.KeyOfRecord(rec))
	if keys, _ := st.ListRefreshing(ctx); len(keys) != 0 {
		t.Fatalf("after delete: %v", keys)
	}
}

func TestLockConnectionExcludes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, _ := newTestStore(t, dir)
	other, _ := newTestStore(t, dir) // another instance on the same storage
	k := tokenstore.KeyOf("fitbit", "alice")
	l, err := st.LockConnection(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	// Another connection's lock is independent.
	l2, err := other.LockConnection(ctx, tokenstore.KeyOf("fitbit", "bob"))
	if err != nil {
		t.Fatal(err)
	}
	_ = l2.Unlock(ctx)
	got := make(chan error, 2)
	go func() {
		l, err := other.LockConnection(ctx, k)
		if err == nil {
			err = l.Unlock(ctx)
		}
		got <- err
	}()
	go func() {
		l, err := st.LockConnection(ctx, k) // same instance queues too
		if err == nil {
			err = l.Unlock(ctx)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("lock taken while held (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	}
	// A canceled wait gives up.
	l, _ = st.LockConnection(ctx, k)
	defer l.Unlock(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := other.LockConnection(cctx, k); err == nil {
		t.Fatal("canceled lock wait succeeded")
	}
}

func TestSaveConnectionValidates(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	for name, mutate := range map[string]func(*tokenstore.Record){
		"bad provider":      func(r *tokenstore.Record) { r.Provider = "../../etc" },
		"no provider":       func(r *tokenstore.Record) { r.Provider = "" },
		"no identity hash":  func(r *tokenstore.Record) { r.IdentityHash = "" },
		"raw identity":      func(r *tokenstore.Record) { r.IdentityHash = "alice" },
		"traversal in hash": func(r *tokenstore.Record) { r.IdentityHash = "../" + r.IdentityHash[3:] },
	} {
		rec := sampleRecord("alice")
		mutate(rec)
		if err := st.SaveConnection(ctx, rec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := st.SaveConnection(ctx, nil); err == nil {
		t.Error("nil record accepted")
	}
	if _, err := st.LoadConnection(ctx, tokenstore.Key{Provider: "fitbit"}); err == nil {
		t.Error("empty identity hash accepted")
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("../fitbit", "alice")); err == nil {
		t.Error("bad provider accepted")
	}
}

// A sealed value is bound to its storage key: copying alice's file over
// bob's key, or one pending over another state's key, must not decrypt.
func TestAssociatedDataBindsStorageKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, fsys := newTestStore(t, dir)
	if err := st.SaveConnection(ctx, sampleRecord("alice")); err != nil {
		t.Fatal(err)
	}
	aliceKey, _ := st.ConnectionKey(tokenstore.Key{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash("alice")})
	bobKey, _ := st.ConnectionKey(tokenstore.Key{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash("bob")})
	copyFile(t, fsys.Filename(aliceKey), fsys.Filename(bobKey))
	_, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "bob"))
	if !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("alice's record under bob's key: got %v, want tokenstore.ErrDecrypt", err)
	}
	if strings.Contains(err.Error(), secretAccess) || strings.Contains(err.Error(), "alice") {
		t.Fatalf("error leaks: %v", err)
	}
	// Same for a different provider.
	otherKey, _ := st.ConnectionKey(tokenstore.Key{Provider: "google_health", IdentityHash: tokenstore.IdentityHash("alice")})
	copyFile(t, fsys.Filename(aliceKey), fsys.Filename(otherKey))
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("google_health", "alice")); !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("record under another provider: got %v, want tokenstore.ErrDecrypt", err)
	}
	// Save refuses to overwrite what it cannot read (it may be a token).
	if err := st.SaveConnection(ctx, sampleRecord("bob")); !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("save over unreadable value: got %v", err)
	}

	// Pending: move state-1's entry to state-2's key.
	exp := time.Now().Add(time.Hour)
	if err := st.PutPending(ctx, samplePending("state-1", "alice", exp)); err != nil {
		t.Fatal(err)
	}
	copyFile(t, fsys.Filename(st.pendingKey("state-1")), fsys.Filename(st.pendingKey("state-2")))
	if _, err := st.TakePending(ctx, "state-2"); !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("moved pending: got %v, want tokenstore.ErrDecrypt", err)
	}
	if p, err := st.TakePending(ctx, "state-1"); err != nil || p.Identity != "alice" {
		t.Fatalf("original pending: %v %v", p, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptedValues(t *testing.T) {
	ctx := context.Background()
	st, fsys := newTestStore(t, t.TempDir())
	key, _ := st.ConnectionKey(tokenstore.Key{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash("alice")})
	for name, val := range map[string][]byte{
		"empty":       {},
		"garbage":     []byte("this is not a sealed value at all, just garbage bytes"),
		"version 9":   append([]byte{9}, bytes.Repeat([]byte{0}, 40)...),
		"truncated":   {1, 1, 2, 3}, // sealed format version 1, cut short
		"plain json":  []byte(`{"provider":"fitbit"}`),
		"sealed junk": mustSeal(t, st.keys, []byte("not json"), key),
		"wrong owner": mustSeal(t, st.keys, []byte(mustJSON(sampleRecord("bob"))), key),
	} {
		if err := fsys.Store(ctx, key, val); err != nil {
			t.Fatal(err)
		}
		_, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice"))
		if !errors.Is(err, tokenstore.ErrDecrypt) {
			t.Errorf("%s: got %v, want tokenstore.ErrDecrypt", name, err)
		}
	}
	if err := fsys.Store(ctx, key, append([]byte{9}, bytes.Repeat([]byte{0}, 40)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); err == nil || !strings.Contains(err.Error(), "unknown sealed format version 9") {
		t.Errorf("unknown version error unclear: %v", err)
	}
}

func mustSeal(t *testing.T, kr *tokenstore.Keyring, pt []byte, key string) []byte {
	t.Helper()
	b, err := kr.Seal(pt, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStoreKeyRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyA, keyB := testKey("A"), testKey("B")
	stA, _ := newTestStore(t, dir, keyA)
	if err := stA.SaveConnection(ctx, sampleRecord("alice")); err != nil {
		t.Fatal(err)
	}
	stB, _ := newTestStore(t, dir, keyB)
	if _, err := stB.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); !errors.Is(err, tokenstore.ErrDecrypt) {
		t.Fatalf("B alone: got %v, want tokenstore.ErrDecrypt", err)
	}
	stBA, _ := newTestStore(t, dir, keyB, keyA)
	rec, err := stBA.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice"))
	if err != nil {
		t.Fatalf("[B, A]: %v", err)
	}
	if err := stBA.SaveConnection(ctx, rec); err != nil { // rewrites under B
		t.Fatal(err)
	}
	if got, err := stB.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); err != nil || got.RefreshToken != secretRefresh || got.Version != 2 {
		t.Fatalf("B alone after rewrite: %v %v", got, err)
	}
}

// No file in the storage directory may hold a token, verifier, state or raw
// identity as bytes, and no file name may hold the identity.
func TestNoPlaintextAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, _ := newTestStore(t, dir)
	identity := "alice.secret-identity@example.com"
	rec := sampleRecord(identity)
	if err := st.SaveConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	p := samplePending("state-plaintext-check-0123456789", identity, time.Now().Add(time.Hour))
	if err := st.PutPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	// Also leave a taken pending behind (exercises the lock files).
	if err := st.PutPending(ctx, samplePending("state-taken-0123456789", identity, time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TakePending(ctx, "state-taken-0123456789"); err != nil {
		t.Fatal(err)
	}

	needles := []string{secretAccess, secretRefresh, p.Verifier, p.State, identity, "state-taken-0123456789", rec.UserID, "healthUserId"}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.Contains(rel, identity) || strings.Contains(rel, p.State) {
			t.Errorf("file name %q holds a secret", rel)
		}
		if d.IsDir() {
			return nil
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s contains %q in clear", rel, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("walked only %d files; storage layout changed?", files)
	}
}

func TestPendingRoundTripAndSingleUse(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	p := samplePending("s1", "alice", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := st.PutPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := st.TakePending(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("took %+v\nwant %+v", mustJSON(got), mustJSON(p))
	}
	if _, err := st.TakePending(ctx, "s1"); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	for _, s := range []string{"", "forged", "../../etc/passwd"} {
		if _, err := st.TakePending(ctx, s); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("take %q: %v", s, err)
		}
	}
	for name, bad := range map[string]*tokenstore.Pending{
		"nil":         nil,
		"no state":    samplePending("", "alice", time.Now().Add(time.Hour)),
		"no identity": samplePending("s", "", time.Now().Add(time.Hour)),
		"no expiry":   samplePending("s", "alice", time.Time{}),
		"bad provider": func() *tokenstore.Pending {
			p := samplePending("s", "alice", time.Now().Add(time.Hour))
			p.Provider = "a/b"
			return p
		}(),
	} {
		if err := st.PutPending(ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTakePendingExpired(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	now := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }
	if err := st.PutPending(ctx, samplePending("old", "alice", now.Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPending(ctx, samplePending("edge", "alice", now)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"old", "edge"} {
		if _, err := st.TakePending(ctx, s); !errors.Is(err, tokenstore.ErrExpired) {
			t.Fatalf("%s: got %v, want tokenstore.ErrExpired", s, err)
		}
		if _, err := st.TakePending(ctx, s); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("%s: expired entry not deleted: %v", s, err)
		}
	}
}

func TestPurgeExpiredPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, fsys := newTestStore(t, dir)
	now := time.Now()
	if n, err := st.PurgeExpiredPending(ctx, now); n != 0 || err != nil {
		t.Fatalf("empty store: %d %v", n, err)
	}
	for i, exp := range []time.Duration{-time.Hour, -time.Minute, time.Hour} {
		if err := st.PutPending(ctx, samplePending(fmt.Sprint("p", i), "alice", now.Add(exp))); err != nil {
			t.Fatal(err)
		}
	}
	// An entry sealed with a key this instance lacks (another instance
	// mid-rollout) is left alone while young, purged when old.
	stranger, _ := newTestStore(t, dir, testKey("other instance"))
	if err := stranger.PutPending(ctx, samplePending("foreign", "alice", now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	// A connection is never touched by purge.
	if err := st.SaveConnection(ctx, sampleRecord("alice")); err != nil {
		t.Fatal(err)
	}

	n, err := st.PurgeExpiredPending(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("purge: %d %v, want 2", n, err)
	}
	if _, err := st.TakePending(ctx, "p2"); err != nil {
		t.Fatalf("live pending purged: %v", err)
	}
	if !fsys.Exists(ctx, st.pendingKey("foreign")) {
		t.Fatal("young undecryptable pending purged")
	}
	n, err = st.PurgeExpiredPending(ctx, now.Add(25*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge of old undecryptable: %d %v, want 1", n, err)
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); err != nil {
		t.Fatalf("purge touched a connection: %v", err)
	}
}

func TestTakePendingConcurrent(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t, t.TempDir())
	if err := st.PutPending(ctx, samplePending("race", "alice", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		wins  int
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p, err := st.TakePending(ctx, "race")
			switch {
			case err == nil && p.Identity == "alice":
				mu.Lock()
				wins++
				mu.Unlock()
			case errors.Is(err, tokenstore.ErrNotFound):
			default:
				t.Errorf("unexpected: %v %v", p, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d winners, want exactly 1", wins)
	}
}

// Cross-process exactly-once: 4 processes (this test binary re-executed),
// each with several goroutines and its own Store over the same
// FileStorage directory, race TakePending for one state.
const (
	childEnvDir   = "TOKENSTORE_TAKE_CHILD_DIR"
	childEnvKey   = "TOKENSTORE_TAKE_CHILD_KEY"
	childEnvState = "TOKENSTORE_TAKE_CHILD_STATE"
	childEnvStart = "TOKENSTORE_TAKE_CHILD_START"
)

func TestTakePendingAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	key := testKey("cross-process")
	st, _ := newTestStore(t, dir, key)
	if err := st.PutPending(ctx, samplePending("xproc", "alice", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Second) // let all children start, then race
	const procs = 4
	outs := make([]bytes.Buffer, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTakePendingProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			childEnvDir+"="+dir,
			childEnvKey+"="+base64.StdEncoding.EncodeToString(key),
			childEnvState+"=xproc",
			childEnvStart+"="+strconv.FormatInt(start.UnixNano(), 10),
		)
		cmd.Stdout = &outs[i]
		cmd.Stderr = &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	wins, losses := 0, 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
		sc := bufio.NewScanner(&outs[i])
		for sc.Scan() {
			switch strings.TrimSpace(sc.Text()) {
			case "RESULT won":
				wins++
			case "RESULT notfound":
				losses++
			}
		}
	}
	const perProc = 5
	if wins != 1 || wins+losses != procs*perProc {
		t.Fatalf("%d winners and %d losers across %d processes, want exactly 1 winner of %d", wins, losses, procs, procs*perProc)
	}
}

// TestHelperTakePendingProcess is the child of TestTakePendingAcrossProcesses;
// it does nothing unless started by it.
func TestHelperTakePendingProcess(t *testing.T) {
	dir := os.Getenv(childEnvDir)
	if dir == "" {
		t.Skip("helper process for TestTakePendingAcrossProcesses")
	}
	kr, err := tokenstore.ParseKeys([]string{os.Getenv(childEnvKey)})
	if err != nil {
		t.Fatal(err)
	}
	startNanos, err := strconv.ParseInt(os.Getenv(childEnvStart), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	st := New(&certmagic.FileStorage{Path: dir}, kr, "")
	state := os.Getenv(childEnvState)
	time.Sleep(time.Until(time.Unix(0, startNanos)))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	results := make(chan string, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := st.TakePending(ctx, state)
			switch {
			case err == nil && p.Identity == "alice" && p.State == state:
				results <- "won"
			case errors.Is(err, tokenstore.ErrNotFound):
				results <- "notfound"
			default:
				results <- fmt.Sprintf("error %v", err)
			}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		fmt.Println("RESULT", r)
	}
}
