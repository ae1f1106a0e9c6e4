package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The change feed (tokenstore.ChangeFeed) is a Redis Stream:
//
//	<prefix>:changes      STREAM of {c: "<provider>/<idhash>", n: <sequence>}
//	<prefix>:changes:seq  STRING, the sequence of the latest change
//
// A subscriber reads with XREAD BLOCK from the last id it saw, so a change
// reaches every instance as soon as it is added, in one round trip, and a
// subscriber that was busy or briefly disconnected picks up where it was —
// unlike pub/sub, nothing is lost while nobody listens. The stream is capped
// near changesMaxLen entries; the sequence, incremented in the same script
// as each XADD, lets a subscriber see that entries it had not read were
// trimmed (or that the server lost or flushed its data) and report
// tokenstore.ErrChangesMissed instead of missing them silently.
const (
	// changesMaxLen caps the stream (XADD MAXLEN ~): a subscriber that falls
	// this many changes behind reports ErrChangesMissed.
	changesMaxLen = 10000
	// changesBlock bounds one blocking read. go-redis cannot interrupt a
	// blocked read when its context is cancelled, so this is also how long
	// stopping a subscriber can take.
	changesBlock = time.Second
	// changesBatch is the most entries one read returns.
	changesBatch = 1000
)

// ChangesKey returns the Redis key of the change stream.
func (s *Store) ChangesKey() string { return s.prefix + ":changes" }

func (s *Store) changesSeqKey() string { return s.prefix + ":changes:seq" }

// publishScript adds a change with the next sequence number.
//
//	KEYS[1] stream   KEYS[2] sequence
//	ARGV[1] "<provider>/<idhash>"   ARGV[2] MAXLEN
var publishScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'c', ARGV[1], 'n', n)
return n
`)

// positionScript returns the id of the latest entry ("0-0" if none) and the
// latest sequence ("0" if none), read together.
//
//	KEYS[1] stream   KEYS[2] sequence
var positionScript = redis.NewScript(`
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then
  id = last[1][1]
end
return {id, redis.call('GET', KEYS[2]) or '0'}
`)

// PublishChange implements tokenstore.ChangeFeed.
func (s *Store) PublishChange(ctx context.Context, k tokenstore.Key) error {
	if err := k.Validate(); err != nil {
		return err
	}
	err := publishScript.Run(ctx, s.client, []string{s.ChangesKey(), s.changesSeqKey()}, member(k), changesMaxLen).Err()
	if err != nil {
		return fmt.Errorf("redisstore: publishing a change of %s: %w", k, err)
	}
	return nil
}

// SubscribeChanges implements tokenstore.ChangeFeed.
func (s *Store) SubscribeChanges(ctx context.Context) (tokenstore.ChangeSubscription, error) {
	res, err := positionScript.Run(ctx, s.client, []string{s.ChangesKey(), s.changesSeqKey()}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: reading the change stream's position: %w", err)
	}
	if len(res) != 2 {
		return nil, errors.New("redisstore: reading the change stream's position: unexpected reply")
	}
	seq, err := strconv.ParseUint(res[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redisstore: the change sequence %s is not a number", s.changesSeqKey())
	}
	return &changes{s: s, last: res[0], seq: seq}, nil
}

type changes struct {
	s    *Store
	last string // id of the last entry read
	seq  uint64 // its sequence
}

// Next implements tokenstore.ChangeSubscription with XREAD BLOCK.
func (c *changes) Next(ctx context.Context, wait time.Duration) ([]tokenstore.Key, error) {
	streams, err := c.s.client.XRead(ctx, &redis.XReadArgs{
		Streams: []string{c.s.ChangesKey(), c.last},
		Count:   changesBatch,
		Block:   min(wait, changesBlock),
	}).Result()
	if errors.Is(err, redis.Nil) {
		// Nothing within the block time, or the stream was recreated (the
		// server flushed or lost its data) with ids at or below the last one
		// read: new entries then stay invisible to XREAD from c.last. The
		// sequence, which restarts too, tells the two apart.
		return nil, c.checkReset(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: reading the change stream: %w", err)
	}
	missed := false
	var keys []tokenstore.Key
	for _, st := range streams {
		for _, msg := range st.Messages {
			seq, _ := msg.Values["n"].(string)
			n, _ := strconv.ParseUint(seq, 10, 64)
			if n != c.seq+1 {
				missed = true // trimmed, or the server lost or reset the stream
			}
			c.last, c.seq = msg.ID, n
			change, _ := msg.Values["c"].(string)
			if k, ok := tokenstore.ParseKey(change); ok {
				keys = append(keys, k)
			}
		}
	}
	if missed {
		return nil, tokenstore.ErrChangesMissed
	}
	return keys, nil
}

// checkReset reports ErrChangesMissed, once, when the stream's sequence is
// behind the last one read (the data was flushed or lost, and the stream
// started again), and carries on from the new stream's latest entry.
func (c *changes) checkReset(ctx context.Context) error {
	res, err := positionScript.Run(ctx, c.s.client, []string{c.s.ChangesKey(), c.s.changesSeqKey()}).StringSlice()
	if err != nil || len(res) != 2 {
		return nil // the next read reports a broken connection
	}
	seq, err := strconv.ParseUint(res[1], 10, 64)
	if err != nil || seq >= c.seq {
		return nil
	}
	c.last, c.seq = res[0], seq
	return tokenstore.ErrChangesMissed
}
