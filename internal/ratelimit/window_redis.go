package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisWindows are Windows shared by every instance on one Redis: each Take
// is one script call (the key's window and the project's, all or nothing),
// and so are Correct and Block. github.com/go-redis/redis_rate (the
// endpoints' Limiter) does not fit here: it is GCRA, where the providers
// count per clock window; it judges by the Redis server's clock, where
// the provider's window and tests need the caller's; and it has no way to
// set a window's count, end and limit from what the provider answered, nor
// to block a key until an upstream 429's reset. A key is a hash holding
// the count n, the window's end, the provider's limit and a block, which
// expires when its window (or block) ends (PEXPIRE relative to the
// caller's clock, so a skewed Redis clock changes nothing); keys are
// "<prefix>:<hex SHA-256 of key>", so identities never appear in Redis.
type RedisWindows struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisWindows returns RedisWindows over client with keys under prefix
// (with Redis Cluster it must carry the token store's hash tag, so the
// key's and the project's window share a slot).
func NewRedisWindows(client redis.UniversalClient, prefix string) *RedisWindows {
	return &RedisWindows{client: client, prefix: prefix}
}

func (r *RedisWindows) key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return r.prefix + ":" + hex.EncodeToString(sum[:])
}

// takeScript: KEYS[1] the key's window, KEYS[2] the project's. ARGV: now,
// period, limit, project period, project limit (0: none), in ms. Returns
// {allowed, limit, remaining, reset, retry after, blocked, project}.
var takeScript = redis.NewScript(`
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'n', 'reset', 'limit', 'blocked')
local n, reset = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local blocked = tonumber(h[4]) or 0
if now >= reset then
  n, reset = 0, now - now % period + period
  redis.call('HDEL', KEYS[1], 'limit')
elseif h[3] then
  limit = tonumber(h[3])
end
if blocked > now then return {0, limit, 0, reset, blocked - now, 1, 0} end
if n >= limit then return {0, limit, 0, reset, reset - now, 0, 0} end
local plimit = tonumber(ARGV[5])
if plimit > 0 then
  local pperiod = tonumber(ARGV[4])
  local p = redis.call('HMGET', KEYS[2], 'n', 'reset')
  local pn, preset = tonumber(p[1]) or 0, tonumber(p[2]) or 0
  if now >= preset then pn, preset = 0, now - now % pperiod + pperiod end
  if pn >= plimit then return {0, limit, limit - n, reset, preset - now, 0, 1} end
  redis.call('HSET', KEYS[2], 'n', pn + 1, 'reset', preset)
  redis.call('PEXPIRE', KEYS[2], preset - now)
end
n = n + 1
redis.call('HSET', KEYS[1], 'n', n, 'reset', reset)
redis.call('PEXPIRE', KEYS[1], math.max(reset, blocked) - now)
return {1, limit, limit - n, reset, 0, 0, 0}
`)

// Take implements Windows.
func (r *RedisWindows) Take(ctx context.Context, key string, w, project Window, now time.Time) (Grant, error) {
	if !w.Enabled() {
		return Grant{Allowed: true}, nil
	}
	keys := []string{r.key(key), r.prefix + ":project"}
	plimit, pperiod := 0, int64(0)
	if project.Enabled() {
		plimit, pperiod = project.Limit, project.Period.Milliseconds()
	}
	v, err := takeScript.Run(ctx, r.client, keys, now.UnixMilli(), w.Period.Milliseconds(), w.Limit, pperiod, plimit).Int64Slice()
	if err != nil || len(v) != 7 {
		return Grant{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return Grant{Allowed: v[0] == 1, Limit: int(v[1]), Remaining: int(v[2]), Reset: time.UnixMilli(v[3]),
		RetryAfter: time.Duration(v[4]) * time.Millisecond, Blocked: v[5] == 1, Project: v[6] == 1}, nil
}

// correctScript: ARGV now, the taken window's end, delta, new end (0:
// keep), limit (0: keep), in ms.
var correctScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'n', 'reset', 'blocked')
local reset = tonumber(h[2]) or 0
if reset ~= tonumber(ARGV[2]) or now >= reset then return 0 end
local n = math.max((tonumber(h[1]) or 0) + tonumber(ARGV[3]), 0)
if tonumber(ARGV[4]) > 0 then reset = tonumber(ARGV[4]) end
redis.call('HSET', KEYS[1], 'n', n, 'reset', reset)
if tonumber(ARGV[5]) > 0 then redis.call('HSET', KEYS[1], 'limit', ARGV[5]) end
redis.call('PEXPIRE', KEYS[1], math.max(reset, tonumber(h[3]) or 0) - now)
return 1
`)

// Correct implements Windows.
func (r *RedisWindows) Correct(ctx context.Context, key string, c Correction, now time.Time) error {
	var reset int64
	if !c.Reset.IsZero() {
		reset = c.Reset.UnixMilli()
	}
	err := correctScript.Run(ctx, r.client, []string{r.key(key)}, now.UnixMilli(), c.Taken.UnixMilli(), c.Delta, reset, c.Limit).Err()
	if err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// blockScript: ARGV the block's end and now, in ms.
var blockScript = redis.NewScript(`
local upto, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if upto <= blocked then return 0 end
redis.call('HSET', KEYS[1], 'blocked', upto)
local reset = tonumber(redis.call('HGET', KEYS[1], 'reset')) or 0
redis.call('PEXPIRE', KEYS[1], math.max(reset, upto) - now)
return 1
`)

// Block implements Windows.
func (r *RedisWindows) Block(ctx context.Context, key string, until, now time.Time) error {
	if !until.After(now) {
		return nil
	}
	if err := blockScript.Run(ctx, r.client, []string{r.key(key)}, until.UnixMilli(), now.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// Peek implements Windows: one HMGET, no script (nothing is written).
func (r *RedisWindows) Peek(ctx context.Context, key string, w Window, now time.Time) (Grant, error) {
	if !w.Enabled() {
		return Grant{Allowed: true}, nil
	}
	v, err := r.client.HMGet(ctx, r.key(key), "n", "reset", "limit", "blocked").Result()
	if err != nil {
		return Grant{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	num := func(i int) int64 {
		s, _ := v[i].(string)
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	st := windowState{n: int(num(0)), reset: time.UnixMilli(num(1)), limit: int(num(2)), blocked: time.UnixMilli(num(3))}
	return st.current(w, now).peek(w, now), nil
}
