package storagestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// The change feed of a Store is a directory of empty markers, one per
// change, grouped in buckets of changeBucket by the publisher's clock:
//
//	<prefix>/changes/<unix seconds / 10>/<unix nanos>.<random>.<provider>.<idhash>
//
// The name carries the whole change, so a subscriber reads a bucket with one
// List and no Load. Each read lists the buckets of the last changeLookback
// and the next one (a peer's clock may run ahead), about five Lists, and
// remembers the names it has seen: a marker that shows up late (a slow
// write, a storage whose listings lag, a peer whose clock runs behind) is
// still delivered, as long as it lands within the lookback. Markers are
// never deleted one by one, so a listing never races a deletion inside the
// buckets it reads; whole buckets are deleted once older than
// changeRetention. So the cost of a read is bounded by the changes of about
// 40 seconds, not by the number of connections.
//
// A subscriber that has not listed for changeGap (a long pause, a storage
// outage) may have missed a bucket that left its window meanwhile: Next then
// reports tokenstore.ErrChangesMissed. Clocks of instances must agree within about
// changeGap/2.
const (
	changeBucket    = 10 * time.Second
	changeLookback  = 30 * time.Second
	changeGap       = changeLookback / 2
	changeRetention = 2 * time.Minute
	// changeSweepEvery: how often a subscriber deletes buckets past the
	// retention (every instance does; deleting twice is harmless).
	changeSweepEvery = time.Minute
)

func (s *Store) changesDir() string { return path.Join(s.prefix, "changes") }

func changeBucketOf(t time.Time) int64 { return t.Unix() / int64(changeBucket/time.Second) }

func (s *Store) changeBucketDir(b int64) string {
	return path.Join(s.changesDir(), strconv.FormatInt(b, 10))
}

// PublishChange implements ChangeFeed.
func (s *Store) PublishChange(ctx context.Context, k tokenstore.Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	now := s.now()
	name := strconv.FormatInt(now.UnixNano(), 10) + "." + hex.EncodeToString(nonce[:]) + "." + k.Provider + "." + k.IdentityHash
	key := path.Join(s.changeBucketDir(changeBucketOf(now)), name)
	if err := s.storage.Store(ctx, key, []byte{'1'}); err != nil {
		return fmt.Errorf("tokenstore: publishing a change of %s: %w", k, err)
	}
	return nil
}

// parseChange returns the key a marker name names.
func parseChange(name string) (tokenstore.Key, bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return tokenstore.Key{}, false // e.g. a storage's temporary file
	}
	k := tokenstore.Key{Provider: parts[2], IdentityHash: parts[3]}
	return k, k.Validate() == nil
}

// SubscribeChanges implements ChangeFeed.
func (s *Store) SubscribeChanges(ctx context.Context) (tokenstore.ChangeSubscription, error) {
	sub := &storageChanges{s: s}
	now := s.now()
	names, err := sub.list(ctx, now)
	if err != nil {
		return nil, err
	}
	sub.seen = names
	sub.listed, sub.swept = now, now
	return sub, nil
}

type storageChanges struct {
	s      *Store
	seen   map[string]struct{} // marker names in the window at the last listing
	listed time.Time           // the last successful listing, by the store's clock
	swept  time.Time
}

// Next implements ChangeSubscription: a Store cannot be woken, so it
// waits out wait and lists.
func (c *storageChanges) Next(ctx context.Context, wait time.Duration) ([]tokenstore.Key, error) {
	if err := sleep(ctx, wait); err != nil {
		return nil, err
	}
	now := c.s.now()
	names, err := c.list(ctx, now)
	if err != nil {
		return nil, err
	}
	missed := now.Sub(c.listed) > changeGap
	var keys []tokenstore.Key
	for name := range names {
		if _, ok := c.seen[name]; ok {
			continue
		}
		if k, ok := parseChange(path.Base(name)); ok {
			keys = append(keys, k)
		}
	}
	c.seen, c.listed = names, now
	if now.Sub(c.swept) >= changeSweepEvery {
		c.swept = now
		c.sweep(ctx, now)
	}
	if missed {
		return nil, tokenstore.ErrChangesMissed
	}
	return keys, nil
}

// list returns the marker names (full keys) in the buckets of the window.
func (c *storageChanges) list(ctx context.Context, now time.Time) (map[string]struct{}, error) {
	names := map[string]struct{}{}
	for b := changeBucketOf(now.Add(-changeLookback)); b <= changeBucketOf(now.Add(changeBucket)); b++ {
		keys, err := c.s.listRetrying(ctx, c.s.changeBucketDir(b))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			names[k] = struct{}{}
		}
	}
	return names, nil
}

// sweep deletes the buckets past the retention. Failures are left for the
// next sweep (of this instance or another).
func (c *storageChanges) sweep(ctx context.Context, now time.Time) {
	dirs, err := c.s.listRetrying(ctx, c.s.changesDir())
	if err != nil {
		return
	}
	oldest := changeBucketOf(now.Add(-changeRetention))
	for _, dir := range dirs {
		if b, err := strconv.ParseInt(path.Base(dir), 10, 64); err == nil && b < oldest {
			_ = c.s.storage.Delete(ctx, dir)
		}
	}
}

// listRetrying lists dir; nothing there is an empty list. certmagic's
// FileStorage.List fails when a file vanishes between reading the directory
// and looking at the file (a peer's temporary file renamed into place, a
// bucket swept), so a listing that failed with "not exist" is tried again.
func (s *Store) listRetrying(ctx context.Context, dir string) ([]string, error) {
	for attempt := 1; ; attempt++ {
		keys, err := s.storage.List(ctx, dir, false)
		if err == nil {
			return keys, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenstore: listing %s: %w", dir, err)
		}
		if !s.storage.Exists(ctx, dir) {
			return nil, nil
		}
		if attempt == 5 {
			return nil, fmt.Errorf("tokenstore: listing %s: %w", dir, err)
		}
	}
}
