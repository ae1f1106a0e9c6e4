package storagestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// tokenstore.Entries in a Store: one storage value per entry, in the form
// tokenstore.Keyring.SealEntry makes.
//
// AddEntry must be atomic across processes, and it runs for every signed
// legacy request, so on a certmagic.FileStorage it needs no lock: it links a
// new file into place, which the file system does only if the name is free.
// Only an entry that is there but expired is replaced under the entry's
// lock. That replacement deletes the expired file and links the new one, so
// it must be sure that what it deletes is what it checked: every other
// deletion (TakeEntry, DeleteEntry, PurgeExpiredEntries) therefore holds the
// entry's lock too. PutEntry does not: a PutEntry racing an AddEntry of the
// same id may be lost.

var _ tokenstore.Entries = (*Store)(nil)

// EntryKey returns the storage key of entry kind/id.
func (s *Store) EntryKey(kind, id string) (string, error) {
	if err := tokenstore.ValidateEntry(kind, id, nil); err != nil {
		return "", err
	}
	return path.Join(s.prefix, "entries", kind, tokenstore.EntryIDHash(id)), nil
}

// entryKey validates a call and returns its storage key.
func (s *Store) entryKey(ctx context.Context, kind, id string, value []byte) (string, error) {
	if err := tokenstore.ValidateEntry(kind, id, value); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return s.EntryKey(kind, id)
}

// PutEntry implements tokenstore.Entries.
func (s *Store) PutEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) error {
	key, err := s.entryKey(ctx, kind, id, value)
	if err != nil {
		return err
	}
	stored, err := s.keys.SealEntry(key, value, expires)
	if err != nil {
		return err
	}
	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()
	if err := s.storage.Store(ctx, key, stored); err != nil {
		return fmt.Errorf("tokenstore: storing entry %s: %w", key, err)
	}
	return nil
}

// AddEntry implements tokenstore.Entries. On a certmagic.FileStorage a new entry is
// linked into place without any lock (see the top of this file); elsewhere
// the check and the write happen under the storage's lock. Either way a
// stored entry this instance cannot decrypt counts as present: it may be a
// live one sealed with a key this instance lacks (during a key rollout), and
// for a nonce guard refusing is the safe mistake.
func (s *Store) AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (bool, error) {
	key, err := s.entryKey(ctx, kind, id, value)
	if err != nil {
		return false, err
	}
	stored, err := s.keys.SealEntry(key, value, expires)
	if err != nil {
		return false, err
	}
	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()

	files, ok := s.storage.(*certmagic.FileStorage)
	if !ok {
		// A live entry needs no lock to refuse: it was there when read.
		if live, err := s.entryLive(ctx, key); err != nil || live {
			return false, err
		}
		return s.addLocked(ctx, key, func() (bool, error) {
			if err := s.storage.Store(ctx, key, stored); err != nil {
				return false, fmt.Errorf("tokenstore: storing entry %s: %w", key, err)
			}
			return true, nil
		})
	}

	name := files.Filename(key)
	tmp, err := writeEntryTemp(name, stored)
	if err != nil {
		return false, fmt.Errorf("tokenstore: writing entry %s: %w", key, err)
	}
	defer os.Remove(tmp)
	if added, err := linkEntry(tmp, name); added || err != nil {
		return added, err
	}
	if live, err := s.entryLive(ctx, key); err != nil || live {
		return false, err
	}
	return s.addLocked(ctx, key, func() (bool, error) {
		// Only holders of this lock delete entries, so the name holds the
		// expired entry just checked, or nothing.
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("tokenstore: replacing expired entry %s: %w", key, err)
		}
		// If a lock-free AddEntry got in since, it won.
		return linkEntry(tmp, name)
	})
}

// writeEntryTemp writes stored to a new temporary file next to name, under a
// name that is not an entry's (so PurgeExpiredEntries skips it).
func writeEntryTemp(name string, stored []byte) (string, error) {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".add-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(stored)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// linkEntry gives the file tmp the name name unless that name exists; the
// file system decides atomically, across processes.
func linkEntry(tmp, name string) (bool, error) {
	err := os.Link(tmp, name)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenstore: linking entry: %w", err)
	}
	return true, nil
}

// addLocked is AddEntry's slow path: under the entry's lock, check again,
// and write unless a live entry is there.
func (s *Store) addLocked(ctx context.Context, key string, write func() (bool, error)) (bool, error) {
	unlock, err := s.lockEntry(ctx, key)
	if err != nil {
		return false, err
	}
	defer unlock()
	if live, err := s.entryLive(ctx, key); err != nil || live {
		return false, err
	}
	return write()
}

// entryLive reports whether key holds an entry that AddEntry must not
// replace: one unexpired now, or one this instance cannot decrypt.
func (s *Store) entryLive(ctx context.Context, key string) (bool, error) {
	_, err := s.loadEntry(ctx, key)
	switch {
	case err == nil, errors.Is(err, tokenstore.ErrDecrypt):
		return true, nil
	case errors.Is(err, tokenstore.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// loadEntry returns the value under key, tokenstore.ErrNotFound if there is none or it
// has expired, or an error wrapping tokenstore.ErrDecrypt.
func (s *Store) loadEntry(ctx context.Context, key string) ([]byte, error) {
	stored, err := s.storage.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, tokenstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: loading entry %s: %w", key, err)
	}
	return s.openEntry(key, stored, s.now())
}

func (s *Store) openEntry(key string, stored []byte, now time.Time) ([]byte, error) {
	value, err := s.keys.OpenEntry(key, stored, now)
	if err != nil && !errors.Is(err, tokenstore.ErrNotFound) {
		return nil, fmt.Errorf("entry %s: %w", key, err)
	}
	return value, err
}

// lockEntry takes the entry's lock, across processes: a lock file of
// filelock.go on a FileStorage, else the storage's own lock. The returned
// unlock ignores ctx's cancellation; an unlock that fails leaves a lock that
// goes stale on its own, and must not undo what was done under it.
func (s *Store) lockEntry(ctx context.Context, key string) (unlock func(), err error) {
	// tokenstore.Lock names are flat (see lockName).
	name := strings.ReplaceAll(key, "/", "_")
	if s.files != nil {
		fl, err := s.files.lock(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("tokenstore: locking entry %s: %w", key, err)
		}
		return func() { _ = fl.Unlock(context.WithoutCancel(ctx)) }, nil
	}
	if err := s.storage.Lock(ctx, name); err != nil {
		return nil, fmt.Errorf("tokenstore: locking entry %s: %w", key, err)
	}
	return func() { _ = s.storage.Unlock(context.WithoutCancel(ctx), name) }, nil
}

// GetEntry implements tokenstore.Entries. A value it cannot decrypt is an error
// wrapping tokenstore.ErrDecrypt.
func (s *Store) GetEntry(ctx context.Context, kind, id string) ([]byte, error) {
	key, err := s.entryKey(ctx, kind, id, nil)
	if err != nil {
		return nil, err
	}
	return s.loadEntry(ctx, key)
}

// TakeEntry implements Entries: the load and the delete happen under the
// entry's lock, like TakePending's. An id with no entry returns tokenstore.ErrNotFound
// without taking any lock. A value it cannot decrypt is deleted all the same
// and an error wrapping tokenstore.ErrDecrypt returned.
func (s *Store) TakeEntry(ctx context.Context, kind, id string) ([]byte, error) {
	key, err := s.entryKey(ctx, kind, id, nil)
	if err != nil {
		return nil, err
	}
	if _, err := s.storage.Load(ctx, key); errors.Is(err, fs.ErrNotExist) {
		return nil, tokenstore.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("tokenstore: loading entry %s: %w", key, err)
	}
	stored, removed, err := s.removeEntry(ctx, key, func([]byte) bool { return true })
	if err != nil {
		return nil, err
	}
	if !removed {
		return nil, tokenstore.ErrNotFound // someone else took it
	}
	return s.openEntry(key, stored, s.now())
}

// DeleteEntry implements tokenstore.Entries.
func (s *Store) DeleteEntry(ctx context.Context, kind, id string) error {
	key, err := s.entryKey(ctx, kind, id, nil)
	if err != nil {
		return err
	}
	_, _, err = s.removeEntry(ctx, key, func([]byte) bool { return true })
	return err
}

// removeEntry deletes the entry under key if there is one and remove, given
// what is stored, agrees, all under the entry's lock (see the top of this
// file). It returns what was stored and whether it deleted it.
func (s *Store) removeEntry(ctx context.Context, key string, remove func(stored []byte) bool) (stored []byte, removed bool, err error) {
	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()
	unlock, err := s.lockEntry(ctx, key)
	if err != nil {
		return nil, false, err
	}
	defer unlock()

	stored, err = s.storage.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("tokenstore: loading entry %s: %w", key, err)
	}
	if !remove(stored) {
		return stored, false, nil
	}
	if err := s.storage.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("tokenstore: deleting entry %s: %w", key, err)
	}
	return stored, true, nil
}

// ListEntries implements tokenstore.Entries.
func (s *Store) ListEntries(ctx context.Context, kind string, limit int) ([][]byte, error) {
	if err := tokenstore.ValidateEntryKind(kind); err != nil {
		return nil, err
	}
	dir := path.Join(s.prefix, "entries", kind)
	keys, err := s.storage.List(ctx, dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: listing %s: %w", dir, err)
	}
	var values [][]byte
	for _, key := range keys {
		if limit > 0 && len(values) == limit {
			break
		}
		if !tokenstore.IsIdentityHash(path.Base(key)) {
			continue // not an entry: a temporary file mid-write
		}
		value, err := s.loadEntry(ctx, key)
		switch {
		case err == nil:
			values = append(values, value)
		case errors.Is(err, tokenstore.ErrNotFound), errors.Is(err, tokenstore.ErrDecrypt):
		default:
			return values, err
		}
	}
	return values, nil
}

// PurgeExpiredEntries implements tokenstore.Entries. Like PurgeExpiredPending it also
// deletes entries it cannot decrypt once they are older than 24 hours, and
// per-entry failures do not stop the sweep.
func (s *Store) PurgeExpiredEntries(ctx context.Context, kind string, now time.Time) (int, error) {
	if err := tokenstore.ValidateEntryKind(kind); err != nil {
		return 0, err
	}
	purgeable := func(key string, stored []byte) bool {
		_, err := s.keys.OpenEntry(key, stored, now)
		if errors.Is(err, tokenstore.ErrNotFound) {
			return true
		}
		return err != nil && s.orphaned(ctx, key, now)
	}
	return s.purgeDir(ctx, path.Join(s.prefix, "entries", kind), func(key string) (bool, error) {
		// Look without the lock first: most entries in a sweep are live.
		stored, err := s.storage.Load(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("tokenstore: loading entry %s: %w", key, err)
		}
		if !purgeable(key, stored) {
			return false, nil
		}
		_, removed, err := s.removeEntry(ctx, key, func(stored []byte) bool { return purgeable(key, stored) })
		return removed, err
	})
}

// orphaned reports whether the value under key, which cannot be decrypted,
// is old enough at now to delete (see orphanPendingAge).
func (s *Store) orphaned(ctx context.Context, key string, now time.Time) bool {
	info, err := s.storage.Stat(ctx, key)
	return err == nil && !info.Modified.IsZero() && now.Sub(info.Modified) > orphanPendingAge
}

// purgeDir is the sweep of a purge: it calls purge for each key directly in
// dir whose name is 64 hex digits (others are not ours, e.g. a temporary
// file mid-write) and counts those it deleted. Per-key failures do not stop
// the sweep; the first is returned with the count.
func (s *Store) purgeDir(ctx context.Context, dir string, purge func(key string) (bool, error)) (int, error) {
	keys, err := s.storage.List(ctx, dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("tokenstore: listing %s: %w", dir, err)
	}
	var (
		purged, failed int
		firstErr       error
	)
	for _, key := range keys {
		if ctx.Err() != nil {
			failed++
			firstErr = cmp.Or(firstErr, ctx.Err())
			break
		}
		if !tokenstore.IsIdentityHash(path.Base(key)) {
			continue
		}
		switch deleted, err := purge(key); {
		case err != nil:
			failed++
			firstErr = cmp.Or(firstErr, err)
		case deleted:
			purged++
		}
	}
	if firstErr != nil {
		return purged, fmt.Errorf("tokenstore: purge: %d entries failed, first: %w", failed, firstErr)
	}
	return purged, nil
}
