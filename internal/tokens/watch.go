package tokens

import (
	"context"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Change is a change this manager made to a stored connection: a new
// connection or a reconnection (To ok), a refresh token the provider
// refused (To needs_reauth), a disconnection (To ""). It never holds a
// token or the raw identity.
type Change struct {
	Provider     string
	IdentityHash string
	UserID       string // the provider's user id, when known
	// From is the status stored before ("": none; Unreadable: a record no
	// key opens), To the status stored now ("": deleted). They are equal
	// for a reconnection of a healthy connection.
	From, To tokenstore.Status
}

// Unreadable is the From of a Change that replaced or deleted a stored
// record no key opens.
const Unreadable tokenstore.Status = "record_unreadable"

// A Watcher learns of each Change once the store has it (events, audit
// gauges). It is called synchronously on the goroutine that made the
// change, so it must be quick; it sees only this instance's changes.
type Watcher interface {
	Changed(ctx context.Context, c Change)
}

// SetWatcher replaces the watcher (nil for none); like the logger, it
// belongs to the config in use, which a Manager outlives.
func (m *Manager) SetWatcher(w Watcher) { m.watcher.Store(&w) }

func (m *Manager) changed(ctx context.Context, identityHash, userID string, from, to tokenstore.Status) {
	if p := m.watcher.Load(); p != nil && *p != nil {
		(*p).Changed(ctx, Change{Provider: m.name, IdentityHash: identityHash, UserID: userID, From: from, To: to})
	}
}
