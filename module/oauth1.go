package module

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/connect"
	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func init() {
	caddy.RegisterModule(OAuth1Handler{})
}

// OAuth1Consumer is an app written for Fitbit's OAuth 1.0a, registered with
// the gateway as it was with Fitbit.
type OAuth1Consumer struct {
	// The consumer key the app sends. Placeholders are expanded.
	Key string `json:"key"`
	// The consumer secret the app signs with. Use a placeholder:
	// {env.LEGACY_APP_SECRET} or {file./run/secrets/legacy-app}.
	Secret string `json:"secret"`
	// Callback URL for apps that send no oauth_callback (OAuth 1.0
	// clients). Default: out of band (the verifier is shown to the user).
	Callback string `json:"callback,omitempty"`
}

// oauth1Consumers resolves the consumers' placeholders and checks them.
func (a *App) oauth1Consumers(expand func(string) string) (map[string]legacy.Consumer, error) {
	out := make(map[string]legacy.Consumer, len(a.OAuth1Consumers))
	var errs []error
	for i, c := range a.OAuth1Consumers {
		lc := legacy.Consumer{Key: expand(c.Key), Secret: expand(c.Secret), Callback: expand(c.Callback)}
		switch {
		case lc.Key == "":
			errs = append(errs, fmt.Errorf("oauth1_consumers[%d]: key is empty (is its placeholder set?)", i))
			continue
		case len(lc.Secret) < 16:
			errs = append(errs, fmt.Errorf("oauth1_consumers[%d] (%s): secret must be at least 16 characters (is its placeholder set?)", i, lc.Key))
		case lc.Callback != "" && !absoluteHTTP(lc.Callback):
			errs = append(errs, fmt.Errorf("oauth1_consumers[%d] (%s): callback must be an absolute http(s) URL", i, lc.Key))
		}
		if _, dup := out[lc.Key]; dup {
			errs = append(errs, fmt.Errorf("oauth1_consumers: key %q is registered twice", lc.Key))
		}
		out[lc.Key] = lc
	}
	return out, errors.Join(errs...)
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// OAuth1Handler lets apps written for Fitbit's OAuth 1.0a run unchanged: it
// serves Fitbit's old endpoints under Prefix (request_token, authorize,
// access_token) and, for every other request, verifies the RFC 5849
// signature and sets {http.auth.user.id} to the identity the access token
// stands for, so the fitbit transport that follows injects that identity's
// Bearer token. The OAuth parameters are removed before the request goes on.
type OAuth1Handler struct {
	// URL prefix of the token endpoints. Default: /oauth.
	Prefix string `json:"prefix,omitempty"`
	// Provider registration users connect to. Default: the app's default.
	Provider string `json:"provider,omitempty"`
	// Prefix of the fitbit_auth handler that serves the OAuth 2.0 callback
	// (the redirect URI). Default: /fitbit.
	ConnectPrefix string `json:"connect_prefix,omitempty"`
	// Scheme and host apps sign their requests against, when Caddy sits
	// behind a proxy that terminates TLS or changes Host, e.g.
	// https://api.example.com. Default: as the request reached Caddy.
	PublicURL string `json:"public_url,omitempty"`
	// How far oauth_timestamp may be from the gateway's clock. Default: 5m.
	TimestampSkew caddy.Duration `json:"timestamp_skew,omitempty"`
	// Let requests without any OAuth 1.0a parameters go on unauthenticated
	// (for another authentication handler or a public route). Default:
	// they are refused with Fitbit's 401.
	Optional bool `json:"optional,omitempty"`

	server *legacy.Server
}

// CaddyModule returns the Caddy module information.
func (OAuth1Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.fitbit_oauth1",
		New: func() caddy.Module { return new(OAuth1Handler) },
	}
}

// Provision wires the handler to the fitbit app.
func (h *OAuth1Handler) Provision(ctx caddy.Context) error {
	h.Prefix = "/" + strings.Trim(h.Prefix, "/")
	if h.Prefix == "/" {
		h.Prefix = "/oauth"
	}
	h.ConnectPrefix = cleanPrefix(h.ConnectPrefix, "/fitbit")
	app, err := fitbitApp(ctx)
	if err != nil {
		return err
	}
	if len(app.oauth1) == 0 {
		return errors.New("fitbit_oauth1: the fitbit app has no oauth1_consumers")
	}
	mgr, err := app.manager(h.Provider)
	if err != nil {
		return err
	}
	var public *url.URL
	if h.PublicURL != "" {
		if public, err = url.Parse(h.PublicURL); err != nil || (public.Scheme != "http" && public.Scheme != "https") || public.Host == "" {
			return fmt.Errorf("fitbit_oauth1: public_url %q must be an absolute http(s) URL such as https://api.example.com", h.PublicURL)
		}
	}
	flow := app.frontFlow(ctx, mgr, h.ConnectPrefix)
	h.server = &legacy.Server{
		Consumers:     app.oauth1,
		Entries:       app.store(),
		Connector:     connector{flow: flow, mgr: mgr},
		Prefix:        h.Prefix,
		PublicURL:     public,
		TimestampSkew: time.Duration(h.TimestampSkew),
		Logger:        ctx.Logger(),
		Observe:       registerMetrics(ctx).of(mgr.Provider().Reg.Name).OAuth1,
		BrowserGate:   app.browserGate(ctx.Logger()),
		TokenGate:     app.tokenGate(ctx.Logger()),
		Failures:      app.failureLimits(),
		ClientIP:      clientIP,
	}
	h.server.Init()
	return nil
}

// Validate checks the prefixes.
func (h *OAuth1Handler) Validate() error {
	for _, p := range []string{h.Prefix, h.ConnectPrefix} {
		if err := plainPath("fitbit_oauth1", p); err != nil {
			return err
		}
	}
	if h.TimestampSkew < 0 {
		return errors.New("fitbit_oauth1: timestamp_skew must not be negative")
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *OAuth1Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.server.ServeEndpoint(w, r) {
		return nil
	}
	identity, userID, e := h.server.Authenticate(r)
	if e != nil {
		if h.Optional && legacy.IsNoCredentials(e) {
			return next.ServeHTTP(w, r)
		}
		e.Write(w, h.server.Realm(r))
		return nil
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.auth.user.id", identity)
	repl.Set("http.auth.user.fitbit_user_id", userID)
	return next.ServeHTTP(w, r.WithContext(inject.WithDialect(r.Context(), apierror.OAuth1)))
}

// cleanPrefix is p as "/a/b", or def for an empty one.
func cleanPrefix(p, def string) string {
	if p = "/" + strings.Trim(p, "/"); p == "/" {
		return def
	}
	return p
}

// frontFlow is the connect flow a front for apps written for Fitbit (the
// OAuth 1.0a and 2.0 handlers) sends browsers through, to connect to mgr's
// registration with the callback of the fitbit_auth handler at prefix.
func (a *App) frontFlow(ctx caddy.Context, mgr *tokens.Manager, prefix string) *connect.Flow {
	return &connect.Flow{
		Tokens:   mgr,
		Audit:    a.recorder(),
		Denied:   a.denied,
		Store:    a.store(),
		Prefix:   prefix,
		ReturnTo: a.newReturnTo(),
		Logger:   ctx.Logger(),
		// No Gate: the front's authorize step that calls Begin has passed
		// the browser gate already.
		MaxPending: a.maxPending(),
	}
}

// plainPath checks that a prefix option is a plain path.
func plainPath(directive, p string) error {
	if strings.ContainsAny(p, "{}*?# ") {
		return fmt.Errorf("%s: prefix %q must be a plain path such as /fitbit", directive, p)
	}
	return nil
}

// connector is the OAuth 2.0 side of the legacy flow: the connect flow of
// one registration.
type connector struct {
	flow *connect.Flow
	mgr  *tokens.Manager
}

func (c connector) Begin(w http.ResponseWriter, r *http.Request, identity string) {
	c.flow.Begin(w, r, identity, provider.Consent{})
}

func (c connector) UserID(ctx context.Context, identity string) (string, error) {
	id, err := fitbitUserID(ctx, c.mgr, identity)
	if errors.Is(err, tokens.ErrNotConnected) {
		return "", legacy.ErrNotConnected
	}
	return id, err
}

// fitbitUserID is the id an app written for Fitbit knows identity's user
// by, its Fitbit encoded id: for a Google Health connection that is
// Google's legacyUserId (users/me/identity,
// https://developers.google.com/health), when Google reports one; else
// the connection's own user id (a user new to Fitbit has no Fitbit id).
func fitbitUserID(ctx context.Context, mgr *tokens.Manager, identity string) (string, error) {
	rec, err := mgr.Lookup(ctx, identity)
	if err != nil {
		return "", err
	}
	return fitbitUserIDOf(rec), nil
}

func fitbitUserIDOf(rec *tokenstore.Record) string {
	if id := rec.Extra["legacy_user_id"]; id != "" {
		return id
	}
	return rec.UserID
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	fitbit_oauth1 [<prefix>] {
//	    prefix         <path>
//	    provider       <name>
//	    connect_prefix <path>
//	    public_url     <url>
//	    timestamp_skew <duration>
//	    optional
//	}
func (h *OAuth1Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := optionalPrefix(d, &h.Prefix); err != nil {
		return err
	}
	return unmarshalBlock(d, &h.Optional, func(opt, val string) error {
		switch opt {
		case "prefix":
			h.Prefix = val
		case "provider":
			h.Provider = val
		case "connect_prefix":
			h.ConnectPrefix = val
		case "public_url":
			h.PublicURL = val
		case "timestamp_skew":
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("fitbit_oauth1: timestamp_skew: %v", err)
			}
			h.TimestampSkew = caddy.Duration(dur)
		default:
			return d.Errf("fitbit_oauth1: unknown subdirective %q (want prefix, provider, connect_prefix, public_url, timestamp_skew or optional)", opt)
		}
		return nil
	})
}

var (
	_ caddy.Provisioner           = (*OAuth1Handler)(nil)
	_ caddy.Validator             = (*OAuth1Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*OAuth1Handler)(nil)
	_ caddyfile.Unmarshaler       = (*OAuth1Handler)(nil)
)
