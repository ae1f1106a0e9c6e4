package tokens

// Revocation at the provider, and its retries.
//
// Disconnecting deletes the local connection whatever the provider answers:
// a provider that is gone (Fitbit answers 410 since its Web API shutdown),
// that refuses the client (a rotated secret) or that is down must not keep
// the user's encrypted tokens stored against their will. What the provider
// said is reported separately (Disconnection). A revocation that failed
// transiently is kept as a sealed store entry of kind "revoke_retry" and
// retried by every instance's background sweep (RetryRevocations) with
// capped exponential backoff, at most RevokeAttempts times within
// RevokeWindow, then given up and logged. Entries live in the shared store,
// so a retry survives restarts and is made by whichever instance sweeps
// first.
//
// Revoking either token of a grant revokes every token of that user for the
// app, at Fitbit (https://dev.fitbit.com/build/reference/web-api/authorization/revoke-token/)
// and at Google (https://developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke).
// So a pending revocation is named by the provider user id it would kill,
// and a new connection of that same provider user cancels it (Connect): the
// old tokens are dead or superseded by the new consent, and revoking them
// would revoke the new ones too. For the same reason a reconnect revokes
// the previous grant only when the provider account changed. Connect and
// the sweep serialise on a per-provider-user lock, so a cancelled retry is
// never written back. What remains: a retry already in flight while the
// same account's new consent is being exchanged can still revoke the new
// grant; its user then connects again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// RevokeReason says why a disconnect did not revoke the tokens at the
// provider (Disconnection.Reason); "" when it did.
type RevokeReason string

const (
	// RevokeProviderGone: the provider answered 410 Gone; it has turned its
	// API off, and the tokens with it.
	RevokeProviderGone RevokeReason = "provider_gone"
	// RevokeRejected: the provider refused the request for good (e.g.
	// invalid_client after the client secret was rotated, 401, 403). Not
	// retried.
	RevokeRejected RevokeReason = "rejected"
	// RevokeUnavailable: no answer, a timeout, 429 or 5xx. Retried in the
	// background.
	RevokeUnavailable RevokeReason = "unavailable"
	// RevokeUnreadable: the stored record could not be opened, so there was
	// no token to revoke.
	RevokeUnreadable RevokeReason = "record_unreadable"
)

// revokeCause is why a revocation was queued (pendingRevoke.Cause, stored).
type revokeCause string

const (
	causeDisconnect revokeCause = "disconnect" // the user disconnected
	causeReplaced   revokeCause = "replaced"   // another account's connection replaced it
)

// Entry kind of a pending revocation.
const revokeRetryKind = "revoke_retry"

// Retry schedule defaults: the first retry at the next sweep, then after
// 30s, 1m, 2m, … up to an hour between attempts.
const (
	defaultRevokeAttempts = 10
	defaultRevokeWindow   = 24 * time.Hour
	revokeBackoffBase     = 30 * time.Second
	revokeBackoffMax      = time.Hour
	// revokeLockWait bounds how long a sweep waits for a revocation's lock:
	// a busy lock means another instance is at it.
	revokeLockWait = 2 * time.Second
	// revokeSweepMax bounds the entries one sweep reads.
	revokeSweepMax = 1000
)

// Disconnection is what Disconnect did. It never holds a token.
type Disconnection struct {
	// Existed: a connection was stored; it is deleted now.
	Existed bool
	// Revoked: the provider confirmed the revocation (or no longer knew the
	// token, which RFC 7009 counts as revoked).
	Revoked bool
	// Reason says why not, when a connection existed and was not revoked:
	// RevokeProviderGone, RevokeRejected, RevokeUnavailable or
	// RevokeUnreadable.
	Reason RevokeReason
	// Message is a scrubbed sentence for humans, when Reason is set.
	Message string
	// RetryQueued: the revocation will be retried in the background.
	RetryQueued bool
	// UserID is the provider user of the deleted connection, when it could
	// be read.
	UserID string
}

// Result is how the disconnect went, in a word (for the audit log):
// not_connected, revoked, or the Reason it was not, with "_retry_queued"
// when the gateway goes on trying.
func (d Disconnection) Result() string {
	switch {
	case !d.Existed:
		return "not_connected"
	case d.Revoked:
		return "revoked"
	case d.RetryQueued:
		return string(d.Reason) + "_retry_queued"
	}
	return string(d.Reason)
}

// pendingRevoke is the value of a revoke_retry entry. It holds a token, and
// is sealed by the store like a connection.
type pendingRevoke struct {
	Provider     string      `json:"provider"`
	UserID       string      `json:"user_id,omitempty"`
	IdentityHash string      `json:"identity_hash"`
	Token        string      `json:"token"`
	Cause        revokeCause `json:"cause"`
	Since        time.Time   `json:"since"`
	NextAt       time.Time   `json:"next_at"`
	Attempts     int         `json:"attempts"` // made so far, the first included
	LastError    string      `json:"last_error,omitempty"`
}

// id names the entry after what revoking it would kill: the provider user
// (the identity when the provider gave no user id).
func (p *pendingRevoke) id() string { return revokeID(p.Provider, p.UserID, p.IdentityHash) }

func revokeID(provider, userID, identityHash string) string {
	if userID != "" {
		return provider + "\x00user\x00" + userID
	}
	return provider + "\x00identity\x00" + identityHash
}

// revokeLockKey is the lock that serialises the writers of one pending
// revocation: the connection-lock namespace, under a hash no identity has.
func revokeLockKey(provider, id string) tokenstore.Key {
	return tokenstore.Key{Provider: provider, IdentityHash: tokenstore.IdentityHash("revoke\x00" + id)}
}

// revokeOutcome classifies what the provider answered a revocation.
func (m *Manager) revokeOutcome(err error) (reason RevokeReason, message string) {
	if err == nil {
		return "", ""
	}
	title := m.cfg.Provider.Reg.Title()
	var te *provider.TokenError
	if !errors.As(err, &te) {
		return RevokeUnavailable, "could not ask " + title + " to revoke the tokens"
	}
	switch {
	case te.Status == http.StatusGone:
		if m.cfg.Provider.Gone.Mark(m.cfg.Now()) {
			m.log.Load().Warn("the provider answered 410 Gone: its API is turned off", zap.String("provider", m.name))
		}
		return RevokeProviderGone, title + " answered 410 Gone: its API is turned off"
	case te.Transient && te.Status == 0:
		return RevokeUnavailable, title + " did not answer the revocation (" + te.Message + ")"
	case te.Transient:
		return RevokeUnavailable, fmt.Sprintf("%s answered the revocation with %d %s", title, te.Status, te.Message)
	case te.Code != "":
		return RevokeRejected, fmt.Sprintf("%s refused the revocation: %d %s: %s", title, te.Status, te.Code, te.Message)
	default:
		return RevokeRejected, fmt.Sprintf("%s refused the revocation: %d %s", title, te.Status, te.Message)
	}
}

func (m *Manager) revokeAttempts() int {
	if m.cfg.RevokeAttempts > 0 {
		return m.cfg.RevokeAttempts
	}
	return defaultRevokeAttempts
}

func (m *Manager) revokeWindow() time.Duration {
	if m.cfg.RevokeWindow > 0 {
		return m.cfg.RevokeWindow
	}
	return defaultRevokeWindow
}

// queueRevoke stores p for the background sweep, under its lock. Its entry
// outlives the retry window by an hour so that a sweep sees it expire and
// says so.
func (m *Manager) queueRevoke(ctx context.Context, p *pendingRevoke) error {
	lock, err := m.cfg.Store.LockConnection(ctx, revokeLockKey(p.Provider, p.id()))
	if err != nil {
		return err
	}
	defer lock.Unlock(ctx)
	return m.putRevoke(ctx, p)
}

func (m *Manager) putRevoke(ctx context.Context, p *pendingRevoke) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return m.cfg.Store.PutEntry(ctx, revokeRetryKind, p.id(), b, p.Since.Add(m.revokeWindow()+time.Hour))
}

// cancelRevoke drops a pending revocation of the provider user that rec
// connects: the new consent superseded the old tokens, and revoking them
// would revoke the new ones.
func (m *Manager) cancelRevoke(ctx context.Context, rec *tokenstore.Record) error {
	id := revokeID(m.name, rec.UserID, rec.IdentityHash)
	lock, err := m.cfg.Store.LockConnection(ctx, revokeLockKey(m.name, id))
	if err != nil {
		return err
	}
	defer lock.Unlock(ctx)
	return m.cfg.Store.DeleteEntry(ctx, revokeRetryKind, id)
}

// revokeReplaced queues the revocation of old, the connection that rec
// replaces, when rec is another provider account: the identity switched
// accounts, and the old grant would otherwise stay live at the provider
// with nobody holding it. The same account is left alone: its new consent
// supersedes the old tokens (Fitbit keeps one refresh token per user and
// app), and revoking them would revoke the new ones.
func (m *Manager) revokeReplaced(ctx context.Context, old, rec *tokenstore.Record) {
	if old == nil || old.UserID == rec.UserID || revokeToken(old) == "" {
		return
	}
	now := m.cfg.Now()
	p := &pendingRevoke{Provider: m.name, UserID: old.UserID, IdentityHash: old.IdentityHash, Token: revokeToken(old),
		Cause: causeReplaced, Since: now, NextAt: now}
	log := m.log.Load().With(zap.String("provider", m.name), zap.String("identity_hash", old.IdentityHash),
		zap.String("user_id", old.UserID), zap.String("new_user_id", rec.UserID))
	if err := m.queueRevoke(ctx, p); err != nil {
		log.Error("reconnected to another account; could not queue the revocation of the previous grant, which stays live at the provider", zap.Error(err))
		return
	}
	log.Info("reconnected to another account; the previous grant will be revoked in the background")
}

// revokeToken is the token to revoke a connection with: the refresh token
// (revoking it revokes the access token too), else the access token.
func revokeToken(rec *tokenstore.Record) string {
	if rec.RefreshToken != "" {
		return rec.RefreshToken
	}
	return rec.AccessToken
}

// RetryRevocations makes the revocations of this provider that are due:
// each under its lock (an instance that finds it busy skips it), re-read
// first (Connect may have cancelled it). It returns how many the provider
// confirmed.
func (m *Manager) RetryRevocations(ctx context.Context) (int, error) {
	values, err := m.cfg.Store.ListEntries(ctx, revokeRetryKind, revokeSweepMax)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, v := range values {
		if ctx.Err() != nil {
			break
		}
		var p pendingRevoke
		if json.Unmarshal(v, &p) != nil || p.Provider != m.name || m.cfg.Now().Before(p.NextAt) {
			continue
		}
		if m.retryRevocation(ctx, p.id()) {
			done++
		}
	}
	return done, ctx.Err()
}

// retryRevocation makes one attempt at the pending revocation id and says
// whether the provider confirmed it.
func (m *Manager) retryRevocation(ctx context.Context, id string) bool {
	lctx, cancel := context.WithTimeout(ctx, revokeLockWait)
	lock, err := m.cfg.Store.LockConnection(lctx, revokeLockKey(m.name, id))
	cancel()
	if err != nil {
		return false // another instance is at it
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	v, err := m.cfg.Store.GetEntry(ctx, revokeRetryKind, id)
	if err != nil {
		return false // done or cancelled meanwhile (or unreadable: it expires)
	}
	var p pendingRevoke
	if json.Unmarshal(v, &p) != nil {
		return false
	}
	log := m.log.Load().With(zap.String("provider", m.name), zap.String("identity_hash", p.IdentityHash),
		zap.String("user_id", p.UserID), zap.String("cause", string(p.Cause)))
	now := m.cfg.Now()
	if now.Before(p.NextAt) {
		return false
	}
	if p.Attempts >= m.revokeAttempts() || !now.Before(p.Since.Add(m.revokeWindow())) {
		log.Error("gave up revoking the tokens at the provider; they stay valid there until the user revokes the app's access",
			zap.Int("attempts", p.Attempts), timeField("since", p.Since), zap.String("last_error", p.LastError))
		_ = m.cfg.Store.DeleteEntry(ctx, revokeRetryKind, id)
		return false
	}
	rerr := m.cfg.Provider.Revoke(ctx, p.Token)
	reason, message := m.revokeOutcome(rerr)
	p.Attempts++
	switch reason {
	case "":
		log.Info("revoked the tokens at the provider on a retry", zap.Int("attempts", p.Attempts))
	case RevokeUnavailable:
		p.LastError = message
		p.NextAt = now.Add(revokeBackoff(p.Attempts))
		if err := m.putRevoke(ctx, &p); err != nil {
			log.Error("could not store the next revocation attempt", zap.Error(err))
		} else {
			log.Warn("revocation failed again; retrying later", zap.Int("attempts", p.Attempts), timeField("next", p.NextAt), zap.String("error", message))
		}
		return false
	default:
		log.Error("gave up revoking the tokens at the provider; they stay valid there until the user revokes the app's access",
			zap.Int("attempts", p.Attempts), zap.String("reason", string(reason)), zap.String("error", message))
	}
	if err := m.cfg.Store.DeleteEntry(ctx, revokeRetryKind, id); err != nil {
		log.Warn("could not delete a finished revocation; a later sweep will find the token already revoked", zap.Error(err))
	}
	return reason == ""
}

// revokeBackoff is the wait after the attempts-th failed attempt: 30s, 1m,
// 2m, … capped at an hour, ±25% so instances do not retry in step.
func revokeBackoff(attempts int) time.Duration {
	d := revokeBackoffMax
	if attempts-1 < 8 {
		d = min(revokeBackoffBase<<(attempts-1), revokeBackoffMax)
	}
	return d*3/4 + rand.N(d/2)
}

// RunRevocations retries pending revocations now and every interval until
// ctx is done.
func (m *Manager) RunRevocations(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := m.RetryRevocations(ctx); err != nil && ctx.Err() == nil {
			m.log.Load().Warn("revocation sweep failed", zap.String("provider", m.name), zap.Error(err))
		} else if n > 0 {
			m.log.Load().Info("revocation sweep revoked tokens at the provider", zap.String("provider", m.name), zap.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
