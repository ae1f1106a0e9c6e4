package storagestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestSealEntryFormat(t *testing.T) {
	kr := mustKeyring(t, testKey("entries"))
	const key = "fitbit/entries/nonce/abc"
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		expires time.Time
		header  uint64
	}{
		{"never", time.Time{}, 0},
		{"whole millisecond", now, uint64(now.UnixMilli())},
		{"rounded up", now.Add(time.Nanosecond), uint64(now.UnixMilli()) + 1},
		{"before 1970", time.Unix(-5, 0), 1},
	} {
		stored, err := kr.SealEntry(key, []byte("v"), tc.expires)
		if err != nil {
			t.Fatal(err)
		}
		var want [entryHeaderSize]byte
		for i := range want {
			want[i] = byte(tc.header >> (8 * (entryHeaderSize - 1 - i)))
		}
		if !bytes.Equal(stored[:entryHeaderSize], want[:]) {
			t.Errorf("%s: header %x, want %x", tc.name, stored[:entryHeaderSize], want)
		}
	}

	stored, err := kr.SealEntry(key, []byte("value"), now)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := kr.OpenEntry(key, stored, now.Add(-time.Nanosecond)); err != nil || string(v) != "value" {
		t.Fatalf("just before expiry: %q, %v", v, err)
	}
	if _, err := kr.OpenEntry(key, stored, now); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("at expiry: %v, want tokenstore.ErrNotFound", err)
	}
	if v, err := kr.OpenEntry(key, mustSealEntry(t, kr, key, nil, time.Time{}), now); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %v (nil: %v), %v", v, v == nil, err)
	}

	// The header is bound: moving the expiry, or the value to another key,
	// is detected.
	never := bytes.Clone(stored)
	clear(never[:entryHeaderSize])
	other := mustKeyring(t, testKey("other"))
	for name, tc := range map[string]struct {
		kr     *tokenstore.Keyring
		key    string
		stored []byte
	}{
		"header changed":  {kr, key, never},
		"another key":     {kr, key + "x", stored},
		"another keyring": {other, key, stored},
		"truncated":       {kr, key, stored[:entryHeaderSize-1]},
		"header only":     {kr, key, stored[:entryHeaderSize]},
	} {
		if _, err := tc.kr.OpenEntry(tc.key, tc.stored, now.Add(-time.Hour)); !errors.Is(err, tokenstore.ErrDecrypt) {
			t.Errorf("%s: %v, want tokenstore.ErrDecrypt", name, err)
		}
	}
}

func mustSealEntry(t *testing.T, kr *tokenstore.Keyring, key string, value []byte, expires time.Time) []byte {
	t.Helper()
	b, err := kr.SealEntry(key, value, expires)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entryDir lists the names in the directory of st's entries of kind.
func entryDir(t *testing.T, dir, kind string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dir, DefaultPrefix, "entries", kind))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	sort.Strings(names)
	return names
}

func TestEntryFileLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, _ := newTestStore(t, dir)
	now := time.Now()
	st.Now = func() time.Time { return now }
	id := "nonce-1"
	added, err := st.AddEntry(ctx, "nonce", id, []byte("v1"), now.Add(time.Minute))
	if err != nil || !added {
		t.Fatalf("AddEntry = %v, %v", added, err)
	}
	if added, err := st.AddEntry(ctx, "nonce", id, []byte("v2"), now.Add(time.Minute)); err != nil || added {
		t.Fatalf("second AddEntry = %v, %v", added, err)
	}
	now = now.Add(2 * time.Minute) // expired: the next add replaces it
	if added, err := st.AddEntry(ctx, "nonce", id, []byte("v3"), now.Add(time.Minute)); err != nil || !added {
		t.Fatalf("AddEntry over an expired entry = %v, %v", added, err)
	}
	// One file named by the id's hash; no temporary files left behind.
	if names := entryDir(t, dir, "nonce"); len(names) != 1 || names[0] != tokenstore.EntryIDHash(id) {
		t.Fatalf("entry directory holds %q, want only the id's hash", names)
	}
	key, err := st.EntryKey("nonce", id)
	if err != nil || key != "fitbit/entries/nonce/"+tokenstore.EntryIDHash(id) {
		t.Fatalf("EntryKey = %q, %v", key, err)
	}
	info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		t.Fatalf("entry file mode %v is readable by others", info.Mode())
	}
	if v, err := st.GetEntry(ctx, "nonce", id); err != nil || string(v) != "v3" {
		t.Fatalf("GetEntry = %q, %v", v, err)
	}
}

func TestEntryUndecryptable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, fsys := newTestStore(t, dir)
	stranger, _ := newTestStore(t, dir, testKey("other instance"))
	exp := time.Now().Add(time.Hour)
	for name, write := range map[string]func(id string){
		"another key": func(id string) {
			if err := stranger.PutEntry(ctx, "nonce", id, []byte("v"), exp); err != nil {
				t.Fatal(err)
			}
		},
		"garbage": func(id string) {
			key, _ := st.EntryKey("nonce", id)
			if err := fsys.Store(ctx, key, []byte("not an entry")); err != nil {
				t.Fatal(err)
			}
		},
	} {
		id := "id-" + name
		write(id)
		check := func(what string, err, want error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Errorf("%s: %s = %v, want %v", name, what, err, want)
			}
		}
		_, err := st.GetEntry(ctx, "nonce", id)
		check("GetEntry", err, tokenstore.ErrDecrypt)
		// AddEntry fails safe: it may be a live nonce.
		if added, err := st.AddEntry(ctx, "nonce", id, []byte("mine"), exp); err != nil || added {
			t.Errorf("%s: AddEntry = %v, %v; want false, nil", name, added, err)
		}
		_, err = st.TakeEntry(ctx, "nonce", id)
		check("TakeEntry", err, tokenstore.ErrDecrypt)
		_, err = st.GetEntry(ctx, "nonce", id)
		check("GetEntry after TakeEntry (which deletes)", err, tokenstore.ErrNotFound)
	}
}

func TestPurgeExpiredEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, fsys := newTestStore(t, dir)
	now := time.Now()
	for i, exp := range []time.Duration{-time.Hour, -time.Millisecond, time.Hour, 0} {
		expires := time.Time{}
		if exp != 0 {
			expires = now.Add(exp)
		}
		if err := st.PutEntry(ctx, "nonce", fmt.Sprint("e", i), []byte("v"), expires); err != nil {
			t.Fatal(err)
		}
	}
	// Other kinds, pending authorizations and connections are not touched.
	if err := st.PutEntry(ctx, "token", "t", []byte("v"), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPending(ctx, samplePending("p", "alice", now.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveConnection(ctx, sampleRecord("alice")); err != nil {
		t.Fatal(err)
	}
	// tokenstore.Entries sealed with a key this instance lacks are left alone while
	// young, purged when old; names that are not an id's hash are not ours.
	stranger, _ := newTestStore(t, dir, testKey("other instance"))
	for _, id := range []string{"young", "old"} {
		if err := stranger.PutEntry(ctx, "nonce", id, []byte("v"), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	oldKey, _ := st.EntryKey("nonce", "old")
	longAgo := now.Add(-orphanPendingAge - time.Hour)
	if err := os.Chtimes(fsys.Filename(oldKey), longAgo, longAgo); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"README", ".add-123.tmp"} {
		if err := fsys.Store(ctx, "fitbit/entries/nonce/"+name, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}

	n, err := st.PurgeExpiredEntries(ctx, "nonce", now)
	if err != nil || n != 3 {
		t.Fatalf("purge: %d %v, want 3", n, err)
	}
	for _, id := range []string{"e2", "e3"} {
		if _, err := st.GetEntry(ctx, "nonce", id); err != nil {
			t.Fatalf("live entry %s purged: %v", id, err)
		}
	}
	want := []string{".add-123.tmp", tokenstore.EntryIDHash("e2"), tokenstore.EntryIDHash("e3"), "README", tokenstore.EntryIDHash("young")}
	sort.Strings(want)
	if got := entryDir(t, dir, "nonce"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after purge the directory holds %q, want %q", got, want)
	}
	if _, err := fsys.Load(ctx, st.pendingKey("p")); err != nil {
		t.Fatalf("purge touched a pending authorization: %v", err)
	}
	if names := entryDir(t, dir, "token"); len(names) != 1 {
		t.Fatalf("purge touched another kind: %q", names)
	}
	if _, err := st.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); err != nil {
		t.Fatalf("purge touched a connection: %v", err)
	}
	if _, err := st.PurgeExpiredEntries(ctx, "No/Kind", now); err == nil {
		t.Fatal("purge with an invalid kind = nil error")
	}
}

// AddEntry's replacement of an expired entry deletes it and links the new
// one; deletions elsewhere (here: purges) must not let a second adder in
// between. Four handles over one directory stand for four processes.
func TestAddEntryReplaceRacesPurge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var stores []*Store
	for range 4 {
		st, _ := newTestStore(t, dir)
		st.Now = clock
		stores = append(stores, st)
	}
	for round := range 20 {
		id := fmt.Sprint("nonce-", round)
		if err := stores[0].PutEntry(ctx, "nonce", id, []byte("old"), clock().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(2 * time.Second)
		mu.Unlock()
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			wins  = make(chan string, 12)
			errs  = make(chan error, 16)
		)
		for i := range 16 {
			st := stores[i%len(stores)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if i >= 12 {
					if _, err := st.PurgeExpiredEntries(ctx, "nonce", clock()); err != nil {
						errs <- err
					}
					return
				}
				value := fmt.Sprint("adder-", i)
				added, err := st.AddEntry(ctx, "nonce", id, []byte(value), clock().Add(time.Hour))
				if err != nil {
					errs <- err
				} else if added {
					wins <- value
				}
			}()
		}
		close(start)
		wg.Wait()
		close(wins)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var won []string
		for w := range wins {
			won = append(won, w)
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d adders won (%q), want exactly 1", round, len(won), won)
		}
		if v, err := stores[1].GetEntry(ctx, "nonce", id); err != nil || string(v) != won[0] {
			t.Fatalf("round %d: stored %q, %v; want the winner's %q", round, v, err, won[0])
		}
	}
}
