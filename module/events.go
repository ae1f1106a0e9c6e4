package module

import (
	"context"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The events the fitbit app emits through Caddy's events app
// (caddyevents), for operators to hook (README › Events and audit log).
// Their origin is the module "fitbit". Data never holds a token or the raw
// identity.
const (
	// EventConnected: a user connected (or reconnected) a provider
	// account. Data: provider, identity_hash, user_id, previous ("" for a
	// new connection, else the status it replaced).
	EventConnected = "connected"
	// EventNeedsReauth: the provider refused a connection's refresh token;
	// the user must connect again. Data: provider, identity_hash, user_id.
	EventNeedsReauth = "needs_reauth"
	// EventDisconnected: a connection was deleted. Data: provider,
	// identity_hash, user_id, previous (its status: ok, needs_reauth or
	// record_unreadable).
	EventDisconnected = "disconnected"
	// EventProviderGone: the provider answered 410 Gone, the first time
	// since it last answered normally. Data: provider, since (RFC 3339).
	EventProviderGone = "provider_gone"
	// EventRateLimited: the provider answered a call 429; the gateway
	// sends none of the identity's calls until the reset it gave (README ›
	// Provider budgets). Data: provider, identity_hash, until (RFC 3339).
	EventRateLimited = "rate_limited"
)

// eventsApp is the part of caddyevents.App the app uses.
type eventsApp interface {
	Emit(ctx caddy.Context, name string, data map[string]any) caddy.Event
}

// provisionEvents finds the events app. Only a configured one can have
// subscribers (the events global option, or apps.events), so an
// unconfigured one is not loaded: the app then emits nothing.
func (a *App) provisionEvents(ctx caddy.Context) {
	a.ctx = ctx
	if v, err := ctx.AppIfConfigured("events"); err == nil {
		if ev, ok := v.(*caddyevents.App); ok {
			a.events = ev
		}
	}
}

// Emit emits the event name with data through Caddy's events app, from
// the fitbit app. Handlers run synchronously (caddyevents' design), so
// what they do is on the path of the request that caused the event.
func (a *App) Emit(name string, data map[string]any) {
	if a.events == nil {
		return
	}
	a.events.Emit(a.ctx, name, data)
}

// watch makes this config the one told of the shared state's changes:
// events and gauges. It is called at Start, once the whole config has
// provisioned, so a config that fails to load never takes over from the
// running one.
func (a *App) watch() {
	for name, m := range a.state.managers {
		m.SetWatcher(a)
		m.Provider().Gone.Notify(func(since time.Time) {
			a.Emit(EventProviderGone, map[string]any{"provider": name, "since": since.UTC().Format(time.RFC3339)})
		})
	}
}

// Changed implements tokens.Watcher: a connection changed on this
// instance.
func (a *App) Changed(_ context.Context, c tokens.Change) {
	metrics.of(c.Provider).changed(c)
	data := map[string]any{"provider": c.Provider, "identity_hash": c.IdentityHash, "user_id": c.UserID}
	switch c.To {
	case tokenstore.StatusOK:
		data["previous"] = string(c.From)
		a.Emit(EventConnected, data)
	case tokenstore.StatusNeedsReauth:
		a.Emit(EventNeedsReauth, data)
	case "":
		data["previous"] = string(c.From)
		a.Emit(EventDisconnected, data)
	}
}

var _ tokens.Watcher = (*App)(nil)
