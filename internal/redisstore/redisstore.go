// Package redisstore is a tokenstore.Store over Redis (6.2 or later).
//
// Values are sealed with a *tokenstore.Keyring exactly as
// tokenstore.StorageStore seals them: the JSON of the record (or pending
// authorization), with the Redis key string as the associated data. Keys hold
// only hashes, never a raw identity or state:
//
//	<prefix>:conn:<provider>:<idhash>    HASH {v: version, d: sealed record}
//	<prefix>:refreshing                  SET of "<provider>/<idhash>"
//	<prefix>:pending:<hex sha256(state)> STRING sealed pending, with a TTL
//	<prefix>:lock:<provider>:<idhash>    STRING lock token (github.com/bsm/redislock)
//
// SaveConnection is a single Lua script: compare the stored version, write
// the new version and sealed record, and add or remove the refreshing-set
// member, all atomically. So unlike StorageStore the compare-and-set holds
// across instances even for a writer whose lock lease has expired.
//
// With Redis Cluster every key of a store must live in one hash slot (the
// save script touches a connection and the refreshing set): give the prefix
// a hash tag, e.g. "{fitbit}". NewWithClient refuses a *redis.ClusterClient
// with a prefix that has none.
//
// Durability is Redis's: refresh tokens are single-use, so run Redis with the
// append-only file (appendonly yes, appendfsync everysec or always) and
// replicas as the deployment requires. A Redis that restarts without
// persistence loses every connection.
package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const (
	// DefaultKeyPrefix is the key prefix used when none is given.
	DefaultKeyPrefix = "fitbit"
	// DefaultLockTTL is the lease of a connection lock. The lease is renewed
	// every third of it while the lock is held, so it only bounds how long a
	// crashed holder blocks others.
	DefaultLockTTL = 15 * time.Second
	// MinLockTTL is the shortest lease accepted.
	MinLockTTL = 100 * time.Millisecond

	// pendingMargin is added to a pending authorization's remaining life for
	// its Redis TTL, so TakePending can still answer ErrExpired (rather than
	// ErrNotFound) a little while after it expired, and so instances with
	// slightly different clocks agree.
	pendingMargin = time.Minute

	// Lock polling: a waiter retries every lockPollMin + [0, lockPollJitter).
	lockPollMin    = 50 * time.Millisecond
	lockPollJitter = 50 * time.Millisecond

	// unlockTimeout bounds the release of a lock (Unlock ignores the
	// caller's cancellation so a cancelled request still releases).
	unlockTimeout = 5 * time.Second
)

// obtainRound is how long one redislock.Obtain call polls when the caller's
// context has no deadline (redislock would otherwise stop after one TTL).
var obtainRound = time.Minute

// Options configures New.
type Options struct {
	// Addr is "host:port", or the path of a Unix socket (starting with "/").
	Addr string
	// Username and Password authenticate (AUTH); both optional.
	Username, Password string
	// DB is the database number (0 by default).
	DB int
	// TLS, when set, is used to connect.
	TLS *tls.Config
	// KeyPrefix is prepended to every key ("fitbit" when empty). Changing it
	// makes existing values unreadable, as the key is the associated data.
	KeyPrefix string
	// LockTTL is the lease of a connection lock (DefaultLockTTL when 0).
	LockTTL time.Duration
	// Timeouts and pool size; go-redis defaults when 0.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	PoolSize                               int
}

// Store is a tokenstore.Store over Redis.
type Store struct {
	client  redis.UniversalClient
	owned   bool // created by New; Close closes it
	keys    *tokenstore.Keyring
	prefix  string
	lockTTL time.Duration
	locker  *redislock.Client

	// Now is the clock used by TakePending to judge expiry and by
	// PutPending to set the TTL; time.Now when nil. Set it before first use.
	Now func() time.Time
}

var _ tokenstore.Store = (*Store)(nil)

// New validates opts and returns a Store with its own client. It does not
// contact the server; use Ping to check it is reachable. The error never
// contains the password.
func New(opts Options, keys *tokenstore.Keyring) (*Store, error) {
	if opts.Addr == "" {
		return nil, errors.New("redisstore: no address configured (want host:port)")
	}
	network := "tcp"
	if strings.HasPrefix(opts.Addr, "/") {
		network = "unix"
	} else if _, _, err := splitHostPort(opts.Addr); err != nil {
		return nil, fmt.Errorf("redisstore: address %q must be host:port or an absolute Unix socket path", opts.Addr)
	}
	if opts.DB < 0 {
		return nil, fmt.Errorf("redisstore: database number %d is negative", opts.DB)
	}
	for name, d := range map[string]time.Duration{"dial": opts.DialTimeout, "read": opts.ReadTimeout, "write": opts.WriteTimeout} {
		if d < 0 {
			return nil, fmt.Errorf("redisstore: %s timeout %s is negative", name, d)
		}
	}
	if opts.PoolSize < 0 {
		return nil, fmt.Errorf("redisstore: pool size %d is negative", opts.PoolSize)
	}
	if opts.Password == "" && opts.Username != "" {
		return nil, errors.New("redisstore: a username is configured without a password")
	}
	prefix, err := normalizePrefix(opts.KeyPrefix)
	if err != nil {
		return nil, err
	}
	lockTTL, err := normalizeLockTTL(opts.LockTTL)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("redisstore: no keyring")
	}
	client := redis.NewClient(&redis.Options{
		Network:      network,
		Addr:         opts.Addr,
		Username:     opts.Username,
		Password:     opts.Password,
		DB:           opts.DB,
		TLSConfig:    opts.TLS,
		DialTimeout:  opts.DialTimeout,
		ReadTimeout:  opts.ReadTimeout,
		WriteTimeout: opts.WriteTimeout,
		PoolSize:     opts.PoolSize,
		// CLIENT SETINFO needs Redis 7.2; older servers would only log noise.
		DisableIdentity: true,
	})
	s := newStore(client, keys, prefix, lockTTL)
	s.owned = true
	return s, nil
}

// NewWithClient returns a Store over an existing client, which stays the
// caller's: Close does not close it. prefix "" means DefaultKeyPrefix and
// lockTTL 0 means DefaultLockTTL. A *redis.ClusterClient needs a prefix with
// a hash tag ("{fitbit}") so that all keys share a slot.
func NewWithClient(c redis.UniversalClient, keys *tokenstore.Keyring, prefix string, lockTTL time.Duration) (*Store, error) {
	if c == nil {
		return nil, errors.New("redisstore: no client")
	}
	if keys == nil {
		return nil, errors.New("redisstore: no keyring")
	}
	prefix, err := normalizePrefix(prefix)
	if err != nil {
		return nil, err
	}
	if _, cluster := c.(*redis.ClusterClient); cluster && !hasHashTag(prefix) {
		return nil, fmt.Errorf("redisstore: with Redis Cluster the key prefix needs a hash tag so all keys share a slot, e.g. %q", "{"+prefix+"}")
	}
	lockTTL, err = normalizeLockTTL(lockTTL)
	if err != nil {
		return nil, err
	}
	return newStore(c, keys, prefix, lockTTL), nil
}

func newStore(c redis.UniversalClient, keys *tokenstore.Keyring, prefix string, lockTTL time.Duration) *Store {
	return &Store{client: c, keys: keys, prefix: prefix, lockTTL: lockTTL, locker: redislock.New(c)}
}

// normalizePrefix checks a key prefix, 1–128 characters of [A-Za-z0-9_.:{}-]
// not ending in ":", and returns it, or DefaultKeyPrefix for empty.
func normalizePrefix(prefix string) (string, error) {
	if prefix == "" {
		return DefaultKeyPrefix, nil
	}
	if len(prefix) > 128 {
		return "", fmt.Errorf("redisstore: key prefix is %d characters; at most 128", len(prefix))
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.:{}-", c) >= 0) {
			return "", fmt.Errorf("redisstore: key prefix %q may contain only [A-Za-z0-9_.:{}-]", prefix)
		}
	}
	if strings.HasSuffix(prefix, ":") {
		return "", fmt.Errorf("redisstore: key prefix %q must not end in \":\" (one is added)", prefix)
	}
	return prefix, nil
}

// hasHashTag reports whether Redis Cluster would hash only part of keys
// starting with prefix: a "{" followed later by "}" with something between.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}

func normalizeLockTTL(d time.Duration) (time.Duration, error) {
	if d == 0 {
		return DefaultLockTTL, nil
	}
	if d < MinLockTTL {
		return 0, fmt.Errorf("redisstore: lock TTL %s is shorter than the minimum %s", d, MinLockTTL)
	}
	return d, nil
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i <= 0 || i == len(addr)-1 {
		return "", "", errors.New("missing host or port")
	}
	if _, err := strconv.ParseUint(addr[i+1:], 10, 16); err != nil {
		return "", "", errors.New("bad port")
	}
	return addr[:i], addr[i+1:], nil
}

// Prefix returns the key prefix in use.
func (s *Store) Prefix() string { return s.prefix }

// Client returns the underlying client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// LockTTL returns the lock lease.
func (s *Store) LockTTL() time.Duration { return s.lockTTL }

// Ping checks that the server is reachable (and the credentials work).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// Close closes a client made by New. A client given to NewWithClient is left
// open. Locks still held report Lost once their next renewal fails.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// ConnectionKey returns the Redis key of a connection.
func (s *Store) ConnectionKey(k tokenstore.Key) (string, error) {
	if err := k.Validate(); err != nil {
		return "", err
	}
	return s.prefix + ":conn:" + k.Provider + ":" + k.IdentityHash, nil
}

// RefreshingKey returns the Redis key of the set of connections with a
// refresh marker.
func (s *Store) RefreshingKey() string { return s.prefix + ":refreshing" }

// PendingKey returns the Redis key of the pending authorization for state.
func (s *Store) PendingKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return s.prefix + ":pending:" + hex.EncodeToString(sum[:])
}

// LockKey returns the Redis key of a connection's lock.
func (s *Store) LockKey(k tokenstore.Key) (string, error) {
	if err := k.Validate(); err != nil {
		return "", err
	}
	return s.prefix + ":lock:" + k.Provider + ":" + k.IdentityHash, nil
}

func member(k tokenstore.Key) string { return k.Provider + "/" + k.IdentityHash }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// saveScript is the compare-and-set of SaveConnection.
//
//	KEYS[1] connection hash   KEYS[2] refreshing set
//	ARGV[1] expected version (decimal, "0": none stored)
//	ARGV[2] new version      ARGV[3] sealed record
//	ARGV[4] "1" if the record has a refresh marker, else "0"
//	ARGV[5] refreshing-set member "<provider>/<idhash>"
//
// Returns 1 when written, 0 on a version conflict. A hash that already holds
// exactly ARGV[2] and ARGV[3] counts as written: that is this very write,
// retried by the client after a lost reply (the sealed bytes carry a random
// nonce, so no other write can produce them).
var saveScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.error_reply('ERR redisstore: connection hash has no version field')
  end
  cur = '0'
end
if cur ~= ARGV[1] then
  if cur == ARGV[2] and redis.call('HGET', KEYS[1], 'd') == ARGV[3] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
if ARGV[4] == '1' then
  redis.call('SADD', KEYS[2], ARGV[5])
else
  redis.call('SREM', KEYS[2], ARGV[5])
end
return 1
`)

// deleteScript removes a connection and its refreshing-set member.
//
//	KEYS[1] connection hash   KEYS[2] refreshing set   ARGV[1] member
var deleteScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`)

// LoadConnection implements tokenstore.Store.
func (s *Store) LoadConnection(ctx context.Context, k tokenstore.Key) (*tokenstore.Record, error) {
	key, err := s.ConnectionKey(k)
	if err != nil {
		return nil, err
	}
	vals, err := s.client.HMGet(ctx, key, "v", "d").Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: loading connection %s: %w", key, err)
	}
	if len(vals) != 2 || (vals[0] == nil && vals[1] == nil) {
		return nil, tokenstore.ErrNotFound
	}
	vs, okV := vals[0].(string)
	ds, okD := vals[1].(string)
	if !okV || !okD {
		return nil, tokenstore.Unreadable(key, fmt.Errorf("%w: the stored hash lacks its version or data field", tokenstore.ErrDecrypt))
	}
	version, err := strconv.ParseUint(vs, 10, 64)
	if err != nil || version == 0 {
		return nil, tokenstore.Unreadable(key, fmt.Errorf("%w: the stored version is not a positive integer", tokenstore.ErrDecrypt))
	}
	rec, err := s.keys.OpenRecord(key, []byte(ds), k)
	if err != nil {
		return nil, err
	}
	if rec.Version != version {
		return nil, tokenstore.Unreadable(key, fmt.Errorf("%w: the sealed record (version %d) does not match the stored version %d", tokenstore.ErrDecrypt, rec.Version, version))
	}
	return rec, nil
}

// SaveConnection implements tokenstore.Store with one Lua script (saveScript):
// the compare-and-set is atomic across every client of the server, whether
// or not the writer holds the connection's lock.
//
// An existing value that this instance cannot decrypt is never overwritten
// by a well-behaved caller: the caller cannot have read its version, and any
// other version conflicts.
func (s *Store) SaveConnection(ctx context.Context, rec *tokenstore.Record) error {
	if rec == nil {
		return errors.New("redisstore: SaveConnection: record is nil")
	}
	k := tokenstore.KeyOfRecord(rec)
	key, err := s.ConnectionKey(k)
	if err != nil {
		return err
	}
	if rec.Version == ^uint64(0) {
		return fmt.Errorf("redisstore: connection %s: version overflow", key)
	}
	c := rec.Clone()
	c.Version = rec.Version + 1
	sealed, err := s.keys.SealRecord(key, c)
	if err != nil {
		return err
	}
	marked := "0"
	if c.Refreshing != nil {
		marked = "1"
	}
	res, err := saveScript.Run(ctx, s.client, []string{key, s.RefreshingKey()},
		strconv.FormatUint(rec.Version, 10), strconv.FormatUint(c.Version, 10), sealed, marked, member(k)).Int64()
	if err != nil {
		return fmt.Errorf("redisstore: storing connection %s: %w", key, err)
	}
	if res != 1 {
		return tokenstore.ErrConflict
	}
	rec.Version = c.Version
	return nil
}

// DeleteConnection implements tokenstore.Store: the connection and its
// refreshing-set member go in one script.
func (s *Store) DeleteConnection(ctx context.Context, k tokenstore.Key) error {
	key, err := s.ConnectionKey(k)
	if err != nil {
		return err
	}
	if err := deleteScript.Run(ctx, s.client, []string{key, s.RefreshingKey()}, member(k)).Err(); err != nil {
		return fmt.Errorf("redisstore: deleting connection %s: %w", key, err)
	}
	return nil
}

// ListRefreshing implements tokenstore.Store. Members that do not name a
// valid key are skipped.
func (s *Store) ListRefreshing(ctx context.Context) ([]tokenstore.Key, error) {
	members, err := s.client.SMembers(ctx, s.RefreshingKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: listing %s: %w", s.RefreshingKey(), err)
	}
	var keys []tokenstore.Key
	for _, m := range members {
		provider, idHash, ok := strings.Cut(m, "/")
		k := tokenstore.Key{Provider: provider, IdentityHash: idHash}
		if ok && k.Validate() == nil {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// PutPending implements tokenstore.Store. The entry gets a Redis TTL of its
// remaining life plus a minute, so Redis deletes it without a sweep.
func (s *Store) PutPending(ctx context.Context, p *tokenstore.Pending) error {
	if err := p.Validate(); err != nil {
		return err
	}
	key := s.PendingKey(p.State)
	sealed, err := s.keys.SealPending(key, p)
	if err != nil {
		return err
	}
	ttl := max(p.Expires.Sub(s.now()), 0) + pendingMargin
	if err := s.client.Set(ctx, key, sealed, ttl).Err(); err != nil {
		return fmt.Errorf("redisstore: storing pending %s: %w", key, err)
	}
	return nil
}

// TakePending implements tokenstore.Store with GETDEL, which hands the entry
// to exactly one caller across all clients.
func (s *Store) TakePending(ctx context.Context, state string) (*tokenstore.Pending, error) {
	if state == "" {
		return nil, tokenstore.ErrNotFound
	}
	key := s.PendingKey(state)
	sealed, err := s.client.GetDel(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, tokenstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: taking pending %s: %w", key, err)
	}
	return s.keys.OpenPending(key, sealed, state, s.now())
}

// PurgeExpiredPending implements tokenstore.Store. It deletes nothing and
// returns 0: every pending entry carries a Redis TTL (see PutPending), so
// Redis expires them itself.
func (s *Store) PurgeExpiredPending(ctx context.Context, now time.Time) (int, error) {
	return 0, nil
}

// LockConnection implements tokenstore.Store with a redislock lease of
// LockTTL, polled every 50–100 ms until obtained or ctx is done. While held,
// the lease is renewed every LockTTL/3; Lost is closed once a renewal finds
// the lock gone (expired, deleted, taken) or renewals keep failing until the
// lease may have run out.
func (s *Store) LockConnection(ctx context.Context, k tokenstore.Key) (tokenstore.Lock, error) {
	key, err := s.LockKey(k)
	if err != nil {
		return nil, err
	}
	opts := &redislock.Options{RetryStrategy: jitterBackoff{}}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// redislock gives up after one TTL when ctx has no deadline; wait in
		// rounds instead, until ctx is done.
		octx, cancel := ctx, context.CancelFunc(func() {})
		if _, ok := ctx.Deadline(); !ok {
			octx, cancel = context.WithTimeout(ctx, obtainRound)
		}
		start := time.Now()
		l, err := s.locker.Obtain(octx, key, s.lockTTL, opts)
		cancel()
		if err == nil {
			return newLock(s, l, start), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redislock.ErrNotObtained) {
			continue // our round ended, ctx is still live
		}
		return nil, fmt.Errorf("redisstore: locking connection %s: %w", k, err)
	}
}

// jitterBackoff polls every lockPollMin plus up to lockPollJitter.
type jitterBackoff struct{}

func (jitterBackoff) NextBackoff() time.Duration {
	return lockPollMin + rand.N(lockPollJitter)
}
