package module

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
	"github.com/caddy-fitbit/caddy-fitbit/internal/connect"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
)

func init() {
	caddy.RegisterModule(OAuth2Handler{})
}

// OAuth2App is an app written for Fitbit's OAuth 2.0, registered with the
// gateway as it was with Fitbit.
type OAuth2App struct {
	// The client id the app sends. Placeholders are expanded.
	ClientID string `json:"client_id"`
	// The client secret (server apps). Use a placeholder:
	// {env.APP_SECRET} or {file./run/secrets/app}.
	ClientSecret string `json:"client_secret,omitempty"`
	// "server" (HTTP Basic at the token endpoint; the default), "client"
	// or "personal" (client_id, no secret, PKCE required).
	AppType string `json:"app_type,omitempty"`
	// Redirect URIs, matched exactly.
	RedirectURIs []string `json:"redirect_uris"`
	// Fitbit scopes the app may ask for. Default: all.
	Scopes []string `json:"scopes,omitempty"`
	// The registration the app's users connect to, e.g. google_health.
	// Default: the fitbit_oauth2 handler's provider.
	Provider string `json:"provider,omitempty"`
	// Lifetime of the access tokens issued to the app, in whole seconds,
	// at least 1s. Default: 8h (28800 s), as at Fitbit. A short one
	// exercises the app's own refresh on 401 expired_token.
	AccessTokenLifetime caddy.Duration `json:"access_token_lifetime,omitempty"`
}

// oauth2Apps resolves the apps' placeholders and checks them.
func (a *App) oauth2Apps(expand func(string) string) (map[string]authserver.App, error) {
	out := make(map[string]authserver.App, len(a.OAuth2Apps))
	var errs []error
	for i, c := range a.OAuth2Apps {
		app := authserver.App{ID: expand(c.ClientID), Secret: expand(c.ClientSecret),
			Type: authserver.AppType(c.AppType), Scopes: c.Scopes, Provider: c.Provider,
			AccessTTL: time.Duration(c.AccessTokenLifetime)}
		if app.Type == "" {
			app.Type = authserver.ServerApp
		}
		for _, u := range c.RedirectURIs {
			app.RedirectURIs = append(app.RedirectURIs, expand(u))
		}
		if err := app.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("oauth2_apps[%d]: %w (is its placeholder set?)", i, err))
			continue
		}
		if _, dup := out[app.ID]; dup {
			errs = append(errs, fmt.Errorf("oauth2_apps: client id %q is registered twice", app.ID))
		}
		out[app.ID] = app
	}
	return out, errors.Join(errs...)
}

// OAuth2Handler lets apps written for Fitbit's OAuth 2.0 run unchanged but
// for their URLs: it serves Fitbit's /oauth2/authorize (through the
// upstream consent), /oauth2/token, /oauth2/revoke and
// /1.1/oauth2/introspect and, for every other request, checks the
// gateway-issued Bearer token and sets {http.auth.user.id} to the identity
// it stands for, so the fitbit transport that follows replaces it with
// that identity's upstream token.
type OAuth2Handler struct {
	// Provider registration users connect to, for apps that name none.
	// Default: google_health when it is registered, else the app's default.
	Provider string `json:"provider,omitempty"`
	// Prefix of the fitbit_auth handler that serves the OAuth 2.0 callback
	// of that registration. Default: /fitbit.
	ConnectPrefix string `json:"connect_prefix,omitempty"`
	// Let requests without a Bearer token go on unauthenticated (for
	// another authentication handler or a public route). Default: they are
	// refused with Fitbit's 401 invalid_token.
	Optional bool `json:"optional,omitempty"`

	server *authserver.Server
}

// CaddyModule returns the Caddy module information.
func (OAuth2Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.fitbit_oauth2",
		New: func() caddy.Module { return new(OAuth2Handler) },
	}
}

// Provision wires the handler to the fitbit app.
func (h *OAuth2Handler) Provision(ctx caddy.Context) error {
	h.ConnectPrefix = cleanPrefix(h.ConnectPrefix, "/fitbit")
	app, err := fitbitApp(ctx)
	if err != nil {
		return err
	}
	if len(app.oauth2) == 0 {
		return errors.New("fitbit_oauth2: the fitbit app has no oauth2_apps")
	}
	def := h.Provider
	if _, err := app.manager("google_health"); def == "" && err == nil {
		def = "google_health"
	}
	conns := oauth2Connectors{}
	providerOf := make(map[string]string, len(app.oauth2))
	for _, a := range app.oauth2 {
		providerOf[a.ID] = cmp.Or(a.Provider, def, app.state.defaultName)
		if _, done := conns[a.Provider]; done {
			continue
		}
		mgr, err := app.manager(cmp.Or(a.Provider, def))
		if err != nil {
			return fmt.Errorf("fitbit_oauth2: app %s: %w", a.ID, err)
		}
		conns[a.Provider] = oauth2Connector{flow: app.frontFlow(ctx, mgr, h.ConnectPrefix), mgr: mgr}
	}
	h.server = &authserver.Server{
		Apps:        app.oauth2,
		Entries:     app.store(),
		Connector:   conns,
		BrowserGate: app.browserGate(ctx.Logger()),
		TokenGate:   app.tokenGate(ctx.Logger()),
		ClientIP:    clientIP,
		Observe:     newOAuth2Observer(registerMetrics(ctx), providerOf, cmp.Or(def, app.state.defaultName)).Observe,
		// An app's Provider is "" for the front's default registration.
		Audit: func(r *http.Request, e audit.Entry) {
			e.Provider = cmp.Or(e.Provider, def, app.state.defaultName)
			app.Audit(r, e)
		},
		Logger: ctx.Logger(),
	}
	h.server.Init()
	return nil
}

// Validate checks the prefix.
func (h *OAuth2Handler) Validate() error { return plainPath("fitbit_oauth2", h.ConnectPrefix) }

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *OAuth2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.server.ServeEndpoint(w, r) {
		return nil
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if r.URL.Path == "/oauth2/authorize" {
		// A request Caddy authenticated already (basic_auth, forward_auth…)
		// signs in as that identity; any other gets a new one.
		identity, _ := repl.GetString("http.auth.user.id")
		h.server.Authorize(w, r, identity)
		return nil
	}
	if h.Optional && !authserver.HasBearer(r) {
		return next.ServeHTTP(w, r)
	}
	p, e := h.server.Authenticate(r)
	if e != nil {
		e.Write(w)
		return nil
	}
	repl.Set("http.auth.user.id", p.Identity)
	repl.Set("http.auth.user.fitbit_user_id", p.UserID)
	return next.ServeHTTP(w, r)
}

// oauth2Connector is the OAuth 2.0 front's view of a registration's
// connect flow.
type oauth2Connector struct {
	flow *connect.Flow
	mgr  *tokens.Manager
}

// oauth2Connectors are the connect flows of the registrations the apps
// name, by the name an app gives ("": the handler's default).
type oauth2Connectors map[string]oauth2Connector

func (cs oauth2Connectors) Begin(w http.ResponseWriter, r *http.Request, app authserver.App, identity string, consent provider.Consent) {
	cs[app.Provider].flow.Begin(w, r, identity, consent)
}

func (cs oauth2Connectors) ConsentScopes(app authserver.App, asked []string) []string {
	return cs[app.Provider].mgr.Provider().ConsentScopes(asked)
}

func (cs oauth2Connectors) Connection(ctx context.Context, app authserver.App, identity string) (authserver.Connection, error) {
	rec, err := cs[app.Provider].mgr.Lookup(ctx, identity)
	if errors.Is(err, tokens.ErrNotConnected) {
		return authserver.Connection{}, authserver.ErrNotConnected
	}
	if err != nil {
		return authserver.Connection{}, err
	}
	return authserver.Connection{UserID: fitbitUserIDOf(rec), Scopes: rec.Scopes}, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	fitbit_oauth2 {
//	    provider       <name>
//	    connect_prefix <path>
//	    optional
//	}
func (h *OAuth2Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	return unmarshalBlock(d, &h.Optional, func(opt, val string) error {
		switch opt {
		case "provider":
			h.Provider = val
		case "connect_prefix":
			h.ConnectPrefix = val
		default:
			return d.Errf("fitbit_oauth2: unknown subdirective %q (want provider, connect_prefix or optional)", opt)
		}
		return nil
	})
}

var (
	_ caddy.Provisioner           = (*OAuth2Handler)(nil)
	_ caddy.Validator             = (*OAuth2Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*OAuth2Handler)(nil)
	_ caddyfile.Unmarshaler       = (*OAuth2Handler)(nil)
)
