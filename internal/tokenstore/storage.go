package tokenstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// DefaultPrefix is the storage key prefix used when none is given.
const DefaultPrefix = "fitbit"

// orphanPendingAge: PurgeExpiredPending deletes pending entries it cannot
// decrypt once they are this old (by storage mtime). Younger ones are left
// alone: during a key rollout another instance may hold a key this one lacks.
const orphanPendingAge = 24 * time.Hour

// StorageStore is a Store over a certmagic.Storage (Caddy's configured
// storage; certmagic.FileStorage by default, whose locks work across
// processes).
type StorageStore struct {
	storage certmagic.Storage
	keys    *Keyring
	prefix  string

	// Now is the clock used by TakePending to judge expiry; time.Now when
	// nil. Set it before first use.
	Now func() time.Time

	// stripes serialise same-key operations inside this process, so
	// concurrent local callers do not contend on the (slow-polling) storage
	// lock and versions stay monotonic.
	stripes [64]sync.Mutex
	// locks are in-process semaphores in front of the storage locks, one
	// per lock name while in use.
	locksMu sync.Mutex
	locks   map[string]*localLock
	// files replaces the storage's locks on certmagic.FileStorage.
	files *fileLocks
}

type localLock struct {
	sem  chan struct{}
	refs int
}

var _ Store = (*StorageStore)(nil)

// NewStorageStore returns a Store that keeps its values under prefix
// (DefaultPrefix when empty; surrounding slashes are trimmed) in storage,
// sealed with keys. Changing the prefix makes existing values unreadable, as
// the storage key is the associated data. Validate a configured prefix with
// ValidatePrefix first.
func NewStorageStore(storage certmagic.Storage, keys *Keyring, prefix string) *StorageStore {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &StorageStore{storage: storage, keys: keys, prefix: prefix, locks: map[string]*localLock{}}
	if fs, ok := storage.(*certmagic.FileStorage); ok {
		// See filelock.go for why certmagic's file locks are not used.
		s.files = &fileLocks{dir: filepath.Join(fs.Path, "locks", "caddy-fitbit")}
	}
	return s
}

// ValidatePrefix checks a storage prefix: non-empty "/"-separated components
// of [A-Za-z0-9_.-], none of them "." or "..".
func ValidatePrefix(prefix string) error {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return nil // the default applies
	}
	for _, part := range strings.Split(prefix, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("tokenstore: storage prefix %q has an empty, \".\" or \"..\" component", prefix)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
				return fmt.Errorf("tokenstore: storage prefix %q may contain only [A-Za-z0-9_.-] and \"/\"", prefix)
			}
		}
	}
	return nil
}

// Prefix returns the storage key prefix in use.
func (s *StorageStore) Prefix() string { return s.prefix }

// ConnectionKey returns the storage key of a connection.
func (s *StorageStore) ConnectionKey(k Key) (string, error) {
	if err := k.Validate(); err != nil {
		return "", err
	}
	return path.Join(s.prefix, "connections", k.Provider, k.IdentityHash), nil
}

// refreshingKey is the index entry of a connection with a refresh marker.
func (s *StorageStore) refreshingKey(k Key) string {
	return path.Join(s.prefix, "refreshing", k.Provider, k.IdentityHash)
}

// lockName names the connection's storage lock. certmagic's FileStorage
// keeps its locks in a flat directory, so the name has no slashes.
func (s *StorageStore) lockName(k Key) string {
	return strings.ReplaceAll(s.prefix, "/", "_") + "_conn_" + k.Provider + "_" + k.IdentityHash
}

func (s *StorageStore) pendingKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return path.Join(s.prefix, "pending", hex.EncodeToString(sum[:]))
}

func (s *StorageStore) stripe(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &s.stripes[h.Sum32()%uint32(len(s.stripes))]
}

func (s *StorageStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// LoadConnection implements Store.
func (s *StorageStore) LoadConnection(ctx context.Context, k Key) (*Record, error) {
	key, err := s.ConnectionKey(k)
	if err != nil {
		return nil, err
	}
	return s.loadRecord(ctx, key, k.Provider, k.IdentityHash)
}

func (s *StorageStore) loadRecord(ctx context.Context, key, provider, idHash string) (*Record, error) {
	sealed, err := s.storage.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: loading connection %s: %w", key, err)
	}
	return s.keys.OpenRecord(key, sealed, Key{Provider: provider, IdentityHash: idHash})
}

// SaveConnection implements Store. The compare-and-set is a read, compare
// and write: atomic within this process, and across processes as long as
// writers hold the connection's lock (LockConnection), as the gateway's
// refresh protocol does. A holder whose lock went stale during a long pause
// can still race another writer here; the Redis store's compare-and-set is
// atomic and closes that gap.
//
// It refuses to overwrite a stored value it cannot decrypt, as that value
// may hold the only copy of a refresh token: fix the keyring, or
// DeleteConnection first.
func (s *StorageStore) SaveConnection(ctx context.Context, rec *Record) error {
	if rec == nil {
		return errors.New("tokenstore: SaveConnection: record is nil")
	}
	k := KeyOfRecord(rec)
	key, err := s.ConnectionKey(k)
	if err != nil {
		return err
	}
	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()

	var stored uint64
	var wasRefreshing bool
	old, err := s.loadRecord(ctx, key, rec.Provider, rec.IdentityHash)
	switch {
	case err == nil:
		stored, wasRefreshing = old.Version, old.Refreshing != nil
	case errors.Is(err, ErrNotFound):
	default:
		return fmt.Errorf("tokenstore: not overwriting an existing value that cannot be read (fix the keyring, or delete the connection): %w", err)
	}
	if stored != rec.Version {
		return ErrConflict
	}

	c := rec.Clone()
	c.Version = stored + 1
	sealed, err := s.keys.SealRecord(key, c)
	if err != nil {
		return err
	}
	// The index entry goes in before a marked record and out after an
	// unmarked one, so a marked record is never missing from the index.
	if c.Refreshing != nil {
		stamp := []byte(c.Refreshing.Since.UTC().Format(time.RFC3339Nano))
		if err := s.storage.Store(ctx, s.refreshingKey(k), stamp); err != nil {
			return fmt.Errorf("tokenstore: storing refresh marker of %s: %w", key, err)
		}
	}
	if err := s.storage.Store(ctx, key, sealed); err != nil {
		return fmt.Errorf("tokenstore: storing connection %s: %w", key, err)
	}
	rec.Version = c.Version
	if c.Refreshing == nil && wasRefreshing {
		// A stale index entry only costs a later look; do not fail the save.
		_ = s.storage.Delete(ctx, s.refreshingKey(k))
	}
	return nil
}

// DeleteConnection implements Store.
func (s *StorageStore) DeleteConnection(ctx context.Context, k Key) error {
	key, err := s.ConnectionKey(k)
	if err != nil {
		return err
	}
	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()
	if err := s.storage.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tokenstore: deleting connection %s: %w", key, err)
	}
	if err := s.storage.Delete(ctx, s.refreshingKey(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tokenstore: deleting refresh marker of %s: %w", key, err)
	}
	return nil
}

// LockConnection implements Store with the storage's own lock, which for
// certmagic.FileStorage is a lock file kept fresh while held and taken over
// once stale (about 10 s after its holder died). Same-process callers queue
// on a mutex first, so only one of them polls the storage.
func (s *StorageStore) LockConnection(ctx context.Context, k Key) (Lock, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	name := s.lockName(k)
	local := s.acquireLocal(name)
	select {
	case local.sem <- struct{}{}:
	case <-ctx.Done():
		s.releaseLocal(name, local, false)
		return nil, ctx.Err()
	}
	if s.files != nil {
		fl, err := s.files.lock(ctx, name)
		if err != nil {
			s.releaseLocal(name, local, true)
			return nil, fmt.Errorf("tokenstore: locking connection %s: %w", k, err)
		}
		return &storageLock{s: s, name: name, local: local, file: fl}, nil
	}
	if err := s.storage.Lock(ctx, name); err != nil {
		s.releaseLocal(name, local, true)
		return nil, fmt.Errorf("tokenstore: locking connection %s: %w", k, err)
	}
	return &storageLock{s: s, name: name, local: local}, nil
}

func (s *StorageStore) acquireLocal(name string) *localLock {
	s.locksMu.Lock()
	defer s.locksMu.Unlock()
	l := s.locks[name]
	if l == nil {
		l = &localLock{sem: make(chan struct{}, 1)}
		s.locks[name] = l
	}
	l.refs++
	return l
}

func (s *StorageStore) releaseLocal(name string, l *localLock, held bool) {
	if held {
		<-l.sem
	}
	s.locksMu.Lock()
	defer s.locksMu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(s.locks, name)
	}
}

type storageLock struct {
	s     *StorageStore
	name  string
	local *localLock
	file  *fileLock // on a FileStorage; else the storage's own lock
	once  sync.Once
}

// Lost implements Lock. Storage modules' locks cannot report a lost lease.
func (l *storageLock) Lost() <-chan struct{} {
	if l.file != nil {
		return l.file.Lost()
	}
	return nil
}

func (l *storageLock) Unlock(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		if l.file != nil {
			err = l.file.Unlock(ctx)
		} else {
			err = l.s.storage.Unlock(context.WithoutCancel(ctx), l.name)
		}
		l.s.releaseLocal(l.name, l.local, true)
	})
	return err
}

// ListRefreshing implements Store.
func (s *StorageStore) ListRefreshing(ctx context.Context) ([]Key, error) {
	dir := path.Join(s.prefix, "refreshing")
	names, err := s.storage.List(ctx, dir, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: listing %s: %w", dir, err)
	}
	var keys []Key
	for _, name := range names {
		rel := strings.TrimPrefix(name, dir+"/")
		provider, idHash, ok := strings.Cut(rel, "/")
		k := Key{Provider: provider, IdentityHash: idHash}
		if ok && k.Validate() == nil {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// PutPending implements Store.
func (s *StorageStore) PutPending(ctx context.Context, p *Pending) error {
	if err := p.Validate(); err != nil {
		return err
	}
	key := s.pendingKey(p.State)
	sealed, err := s.keys.SealPending(key, p)
	if err != nil {
		return err
	}
	if err := s.storage.Store(ctx, key, sealed); err != nil {
		return fmt.Errorf("tokenstore: storing pending %s: %w", key, err)
	}
	return nil
}

// TakePending implements Store. Load and Delete happen under a storage lock
// named after the key, with a re-check after locking; same-process callers
// are also serialised in memory first. A state with no entry returns
// ErrNotFound without taking any lock, so forged states cost one read.
func (s *StorageStore) TakePending(ctx context.Context, state string) (*Pending, error) {
	if state == "" {
		return nil, ErrNotFound
	}
	key := s.pendingKey(state)
	if _, err := s.storage.Load(ctx, key); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("tokenstore: loading pending %s: %w", key, err)
	}

	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()

	sealed, err := s.takeLocked(ctx, key)
	if err != nil {
		return nil, err
	}
	// From here the entry is gone from storage and this caller is the only
	// one that ever got it.
	return s.keys.OpenPending(key, sealed, state, s.now())
}

// takeLocked loads and deletes key under the storage lock and returns the
// sealed value, or ErrNotFound if someone else took it first.
func (s *StorageStore) takeLocked(ctx context.Context, key string) (sealed []byte, err error) {
	lock := key + ".take"
	if err := s.storage.Lock(ctx, lock); err != nil {
		return nil, fmt.Errorf("tokenstore: locking pending %s: %w", key, err)
	}
	defer func() {
		// Unlock even if ctx is cancelled. An Unlock failure leaves a lock
		// that goes stale on its own; it must not turn a win into a loss,
		// since the entry is already deleted.
		uerr := s.storage.Unlock(context.WithoutCancel(ctx), lock)
		if uerr != nil && err != nil {
			err = errors.Join(err, fmt.Errorf("tokenstore: unlocking pending %s: %w", key, uerr))
		}
	}()

	sealed, err = s.storage.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("tokenstore: loading pending %s: %w", key, err)
	}
	if err := s.storage.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tokenstore: deleting pending %s: %w", key, err)
	}
	return sealed, nil
}

// PurgeExpiredPending implements Store. It also deletes entries it cannot
// decrypt once they are older than 24 hours. Per-entry failures do not stop
// the sweep; the first is returned with the count.
func (s *StorageStore) PurgeExpiredPending(ctx context.Context, now time.Time) (int, error) {
	return s.purgeDir(ctx, path.Join(s.prefix, "pending"), func(key string) (bool, error) {
		expired, err := s.pendingExpired(ctx, key, now)
		if err != nil || !expired {
			return false, err
		}
		if err := s.storage.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("tokenstore: deleting pending %s: %w", key, err)
		}
		return true, nil
	})
}

func (s *StorageStore) pendingExpired(ctx context.Context, key string, now time.Time) (bool, error) {
	sealed, err := s.storage.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // taken meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("tokenstore: loading pending %s: %w", key, err)
	}
	switch _, err := s.keys.OpenPending(key, sealed, "", now); {
	case errors.Is(err, ErrExpired):
		return true, nil
	case err == nil:
		return false, nil
	}
	return s.orphaned(ctx, key, now), nil
}
