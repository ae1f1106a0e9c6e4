package module

import (
	"context"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
	"github.com/caddy-fitbit/caddy-fitbit/internal/connect"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
)

func init() {
	caddy.RegisterModule(AuthHandler{})
}

// AuthHandler serves the connect flow under Prefix: the connections page
// (Prefix + "/"), authorize, callback, status and disconnect. Other requests go to the next handler.
type AuthHandler struct {
	// URL prefix of the endpoints. Default: /fitbit.
	Prefix string `json:"prefix,omitempty"`
	// Provider registration in the fitbit app. Default: the app's only one.
	Provider string `json:"provider,omitempty"`
	// Placeholder expression naming the caller. Default: {http.auth.user.id}.
	Identity string `json:"identity,omitempty"`

	flow     *connect.Flow
	identity func(*http.Request) string
}

// CaddyModule returns the Caddy module information.
func (AuthHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.fitbit_auth",
		New: func() caddy.Module { return new(AuthHandler) },
	}
}

// Provision wires the handler to the fitbit app.
func (h *AuthHandler) Provision(ctx caddy.Context) error {
	if h.Prefix == "" {
		h.Prefix = "/fitbit"
	}
	h.Prefix = "/" + strings.Trim(h.Prefix, "/")
	app, err := fitbitApp(ctx)
	if err != nil {
		return err
	}
	mgr, err := app.manager(h.Provider)
	if err != nil {
		return err
	}
	h.identity = identityFunc(h.Identity)
	warnConstantIdentity(ctx, h.Identity)
	h.flow = &connect.Flow{
		Tokens:     mgr,
		Others:     app.others(mgr.Provider().Reg.Name),
		Store:      app.store(),
		Prefix:     h.Prefix,
		ReturnTo:   app.newReturnTo(),
		Logger:     ctx.Logger(),
		Gate:       app.browserGate(ctx.Logger()),
		MaxPending: app.maxPending(),
		ClientIP:   clientIP,
		Audit:      app.recorder(),
		Denied:     app.denied,
		// The app's connect URL, which the proxy's errors quote too.
		ConnectURLs: app.connectURLFor,
		// The legacy OAuth 1.0a front's sign-ins resume at its authorize
		// step, whichever instance began them.
		// So do the Fitbit OAuth 2.0 front's, which also tells its app
		// of a denial.
		Resume: func(ctx context.Context, identity string) (string, bool) {
			if next, ok := legacy.Resume(ctx, app.store(), identity); ok {
				return next, ok
			}
			return authserver.Resume(ctx, app.store(), identity)
		},
		ResumeDenied: func(ctx context.Context, identity string) (string, bool) {
			return authserver.ResumeDenied(ctx, app.store(), identity)
		},
	}
	app.servesConnect(h.Prefix, h.flow.DefaultProvider())
	return nil
}

// Validate checks the prefix.
func (h *AuthHandler) Validate() error {
	return plainPath("fitbit_auth", h.Prefix)
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *AuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rest, ok := strings.CutPrefix(r.URL.Path, h.Prefix)
	if !ok {
		return next.ServeHTTP(w, r)
	}
	switch rest {
	case "", "/":
		// The connections page for people, the status JSON for apps.
		h.flow.Home(w, r, h.identity(r))
	case "/authorize":
		h.flow.Authorize(w, r, h.identity(r))
	case "/callback":
		h.flow.Callback(w, r, h.identity(r))
	case "/status":
		h.flow.Status(w, r, h.identity(r))
	case "/disconnect":
		h.flow.Disconnect(w, r, h.identity(r))
	default:
		return next.ServeHTTP(w, r)
	}
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	fitbit_auth [<prefix>] {
//	    prefix   <path>
//	    provider <name>
//	    identity <placeholder expression>
//	}
func (h *AuthHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := optionalPrefix(d, &h.Prefix); err != nil {
		return err
	}
	for d.NextBlock(0) {
		var target *string
		switch d.Val() {
		case "prefix":
			target = &h.Prefix
		case "provider":
			target = &h.Provider
		case "identity":
			target = &h.Identity
		default:
			return d.Errf("fitbit_auth: unknown subdirective %q (want prefix, provider or identity)", d.Val())
		}
		val, err := singleArg(d)
		if err != nil {
			return err
		}
		*target = val
	}
	return nil
}

var (
	_ caddy.Provisioner           = (*AuthHandler)(nil)
	_ caddy.Validator             = (*AuthHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*AuthHandler)(nil)
	_ caddyfile.Unmarshaler       = (*AuthHandler)(nil)
)
