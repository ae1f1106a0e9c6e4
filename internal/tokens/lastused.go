package tokens

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// When a connection last served a request, for operators (the admin API's
// last_used_at), is kept in an entry of its own rather than in the record:
// a write to the record would bump its version under a refresh's
// compare-and-set. The hot path writes nothing: the entry is written off it,
// when the cache reads the connection (a miss, which reads the store
// anyway) or re-reads it in the background (every MaxAge of use, see
// revalidate), and only when the last write is older than
// LastUsedGranularity. So last_used_at is accurate to about an hour.
const (
	// LastUsedGranularity is how stale the recorded last use may be.
	LastUsedGranularity = time.Hour
	lastUsedKind        = "last_used"
	// lastUsedRetention outlives the six months after which Google lets
	// an unused refresh token die.
	lastUsedRetention = 400 * 24 * time.Hour
)

// touch records that identity's connection was used at now, unless the
// record of it is recent enough. A failure is only logged: it is a record
// for operators, not part of serving the request.
func (m *Manager) touch(ctx context.Context, identity string, now time.Time) {
	key := m.key(identity)
	if last, err := m.lastUsed(ctx, key); err == nil && now.Sub(last) < LastUsedGranularity {
		return
	}
	v := strconv.FormatInt(now.Unix(), 10)
	if err := m.cfg.Store.PutEntry(ctx, lastUsedKind, key.String(), []byte(v), now.Add(lastUsedRetention)); err != nil {
		m.log.Load().Debug("could not record a connection's last use", zap.String("provider", m.name),
			zap.String("identity_hash", key.IdentityHash), zap.Error(err))
	}
}

// LastUsed is when the connection of identityHash last served a request,
// to within LastUsedGranularity; zero when it has not since this was
// recorded.
func (m *Manager) LastUsed(ctx context.Context, identityHash string) (time.Time, error) {
	return m.lastUsed(ctx, tokenstore.Key{Provider: m.name, IdentityHash: identityHash})
}

func (m *Manager) lastUsed(ctx context.Context, key tokenstore.Key) (time.Time, error) {
	b, err := m.cfg.Store.GetEntry(ctx, lastUsedKind, key.String())
	if errors.Is(err, tokenstore.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, nil // not ours to fail on: written again on the next use
	}
	return time.Unix(sec, 0).UTC(), nil
}
