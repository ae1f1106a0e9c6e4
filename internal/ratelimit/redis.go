package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter shared by every instance using one Redis: GCRA
// (github.com/go-redis/redis_rate), one script call per Allow, judged by the
// Redis server's clock. Keys are stored as "rate:<prefix>:<hex SHA-256 of
// key>", so identities never appear in Redis; each expires once its budget
// is full again.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// NewRedis returns a Redis limiter over client, its keys under prefix (use
// the token store's key prefix, hash tag included, with Redis Cluster).
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow implements Limiter.
func (l *Redis) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	if !limit.Enabled() {
		return Decision{Allowed: true}, nil
	}
	sum := sha256.Sum256([]byte(key))
	res, err := l.limiter.Allow(ctx, l.prefix+":"+hex.EncodeToString(sum[:]),
		redis_rate.Limit{Rate: limit.Events, Period: limit.Period, Burst: limit.burst()})
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if res.Allowed > 0 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: res.RetryAfter}, nil
}
