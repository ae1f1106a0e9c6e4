// Package caddyfile adds caddy-fitbit to the Caddyfile: the fitbit global
// option, the fitbit_auth and fitbit_oauth1 directives, and the fitbit_proxy shortcut, which
// expands to reverse_proxy to the provider's API with the fitbit transport
// (as php_fastcgi expands to reverse_proxy with the fastcgi transport).
package caddyfile

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-fitbit/caddy-fitbit/module"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("fitbit", parseGlobal)
	httpcaddyfile.RegisterDirective("fitbit_auth", parseHandler[module.AuthHandler])
	httpcaddyfile.RegisterDirective("fitbit_proxy", parseProxy)
	httpcaddyfile.RegisterDirective("fitbit_oauth1", parseHandler[module.OAuth1Handler])
	httpcaddyfile.RegisterDirective("fitbit_oauth2", parseHandler[module.OAuth2Handler])
	// The connect endpoints right after authentication (basic_auth and
	// forward_auth come first), before handle/respond blocks that could
	// shadow them; the proxy where reverse_proxy would be.
	httpcaddyfile.RegisterDirectiveOrder("fitbit_auth", httpcaddyfile.After, "forward_auth")
	httpcaddyfile.RegisterDirectiveOrder("fitbit_proxy", httpcaddyfile.Before, "reverse_proxy")
	// An authentication handler for OAuth 1.0a-signed calls: before the
	// other authentication handlers, so a route may put it first.
	httpcaddyfile.RegisterDirectiveOrder("fitbit_oauth1", httpcaddyfile.Before, "basic_auth")
	// Likewise for calls with a Bearer token the Fitbit OAuth 2.0 front
	// issued, and its endpoints.
	httpcaddyfile.RegisterDirectiveOrder("fitbit_oauth2", httpcaddyfile.Before, "basic_auth")
}

func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("fitbit: the global option may appear only once")
	}
	app := new(module.App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "fitbit", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseHandler reads a directive of handler type T that takes no matcher
// (fitbit_auth, fitbit_oauth1: their first argument is their prefix; wrap
// them in a route with a matcher to limit where they apply).
func parseHandler[T any, PT interface {
	*T
	caddyhttp.MiddlewareHandler
	caddyfile.Unmarshaler
}](h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	handler := PT(new(T))
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return h.NewRoute(nil, handler), nil
}

// parseProxy expands
//
//	fitbit_proxy [<matcher>] {
//	    provider        <name>
//	    identity        <placeholder expression>
//	    max_replay_body     <size>
//	    replay_body_timeout <duration>
//	    allow_upstream      <host[:port]>...
//	    translate           [<registration>] off|fallback|always
//	    <any reverse_proxy subdirective, e.g. to, lb_try_duration, header_down>
//	}
//
// into reverse_proxy to the provider's API base with the fitbit transport and
// the upstream's Host header. With several provider registrations (Fitbit
// and Google Health during the migration) and no provider subdirective, it
// expands into one route per provider, chosen by API path (/v4/… to Google
// Health), the default provider taking every other path.
func parseProxy(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	h.Next() // directive name
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	opts := map[string][]string{}
	hasTo := false
	// Strip our subdirectives so reverse_proxy's parser sees only its own.
	dispenser := h.NewFromNextSegment()
	for dispenser.Next() {
		if args := dispenser.RemainingArgs(); len(args) > 0 {
			return nil, dispenser.Errf("fitbit_proxy takes no upstream: it proxies to the fitbit app's api_base (use the 'to' subdirective to override)")
		}
		for dispenser.NextBlock(0) {
			if dispenser.Nesting() != 1 {
				continue
			}
			// Only the first token of a line names a subdirective;
			// skip the arguments of reverse_proxy's own lines.
			switch dispenser.Val() {
			default:
				hasTo = hasTo || dispenser.Val() == "to"
				dispenser.RemainingArgs()
			case "provider", "identity", "max_replay_body", "replay_body_timeout", "allow_upstream", "translate":
				name, args := dispenser.Val(), dispenser.RemainingArgs()
				if err := new(module.Transport).SetOption(name, args); err != nil {
					return nil, dispenser.Errf("%v", err)
				}
				if name == "allow_upstream" {
					opts[name] = append(opts[name], args...) // repeatable
				} else {
					opts[name] = args
				}
				dispenser.DeleteN(len(args) + 1)
			case "transport":
				return nil, dispenser.Err("fitbit_proxy sets its own transport; use reverse_proxy with 'transport fitbit' for full control")
			}
		}
	}

	routes, err := providerRoutes(h, opts)
	if err != nil {
		return nil, err
	}
	if len(routes) > 1 && hasTo {
		return nil, h.Err("fitbit_proxy: with several providers, 'to' is ambiguous: set each provider's api_base, or name one with 'provider'")
	}
	sub := new(caddyhttp.Subroute)
	for _, r := range routes {
		rp, err := proxyHandler(h, dispenser, opts, r)
		if err != nil {
			return nil, err
		}
		if len(routes) == 1 {
			return h.NewRoute(matcherSet, rp), nil
		}
		route := caddyhttp.Route{HandlersRaw: []json.RawMessage{caddyconfig.JSONModuleObject(rp, "handler", "reverse_proxy", nil)}}
		if len(r.paths) > 0 {
			route.MatcherSetsRaw = []caddy.ModuleMap{{"path": h.JSON(r.paths)}}
			route.Terminal = true
		}
		sub.Routes = append(sub.Routes, route)
	}
	return h.NewRoute(matcherSet, sub), nil
}

// providerRoute is one provider's share of fitbit_proxy.
type providerRoute struct {
	provider string   // registration name; "" for the app's default
	base     string   // API base URL
	paths    []string // path matchers; nil for the default route
}

// providerRoutes reads the fitbit global option: the default registration
// takes every path, each further one its preset's API paths. A provider
// subdirective narrows fitbit_proxy to that one.
func providerRoutes(h httpcaddyfile.Helper, opts map[string][]string) ([]providerRoute, error) {
	var app module.App
	if opt, ok := h.Option("fitbit").(httpcaddyfile.App); ok {
		if err := json.Unmarshal(opt.Value, &app); err != nil {
			return nil, fmt.Errorf("fitbit_proxy: reading the fitbit global option: %w", err)
		}
	}
	regs, err := app.ProxyRoutes()
	if err != nil {
		return nil, h.Errf("fitbit_proxy: %v", err)
	}
	var routes []providerRoute
	for i, r := range regs {
		if want := opts["provider"]; len(want) == 1 && want[0] != r.Provider {
			continue
		}
		pr := providerRoute{provider: r.Provider, base: r.APIBase}
		if i > 0 && len(opts["provider"]) == 0 {
			for _, prefix := range r.PathPrefixes {
				pr.paths = append(pr.paths, prefix+"*")
			}
			routes = append([]providerRoute{pr}, routes...) // path routes before the catch-all
			continue
		}
		routes = append(routes, pr)
	}
	if len(routes) == 0 {
		return nil, h.Errf("fitbit_proxy: provider %q is not configured in the fitbit global option", opts["provider"][0])
	}
	if len(routes) == 1 && len(opts["provider"]) == 0 {
		routes[0].provider = "" // the app's default; keeps the JSON minimal
	}
	return routes, nil
}

// proxyHandler builds the reverse_proxy of one provider route from the
// (stripped) fitbit_proxy tokens.
func proxyHandler(h httpcaddyfile.Helper, dispenser *caddyfile.Dispenser, opts map[string][]string, r providerRoute) (*reverseproxy.Handler, error) {
	transport := new(module.Transport)
	for name, args := range opts {
		_ = transport.SetOption(name, args) // validated while stripping
	}
	if r.provider != "" {
		transport.Provider = r.provider
	}
	dispenser.Reset()
	dispenser.Next() // the directive name, as reverse_proxy's parser expects
	rp := &reverseproxy.Handler{}
	if err := rp.UnmarshalCaddyfile(dispenser); err != nil {
		return nil, err
	}
	if err := rp.FinalizeUnmarshalCaddyfile(h); err != nil { // handle_response
		return nil, err
	}
	// For an https 'to', reverse_proxy's parser enabled TLS on its own http
	// transport; carry those settings over to the fitbit transport's.
	if rp.TransportRaw != nil {
		transport.HTTP = new(reverseproxy.HTTPTransport)
		if err := json.Unmarshal(rp.TransportRaw, transport.HTTP); err != nil {
			return nil, h.Errf("fitbit_proxy: carrying over transport settings: %v", err)
		}
		rp.TransportRaw = nil
	}
	if len(rp.Upstreams) == 0 {
		if err := upstreamOf(h, rp, transport, r.base); err != nil {
			return nil, err
		}
	}
	if rp.Headers == nil {
		rp.Headers = new(headers.Handler)
	}
	if rp.Headers.Request == nil {
		rp.Headers.Request = new(headers.HeaderOps)
	}
	if rp.Headers.Request.Set == nil {
		rp.Headers.Request.Set = http.Header{}
	}
	if rp.Headers.Request.Set.Get("Host") == "" {
		rp.Headers.Request.Set.Set("Host", "{http.reverse_proxy.upstream.hostport}")
	}
	rp.TransportRaw = caddyconfig.JSONModuleObject(transport, "protocol", "fitbit", nil)
	return rp, nil
}

// upstreamOf points rp at an API base URL.
func upstreamOf(h httpcaddyfile.Helper, rp *reverseproxy.Handler, transport *module.Transport, base string) error {
	if strings.Contains(base, "{") {
		return h.Errf("fitbit_proxy: api_base %q holds a placeholder, which cannot name an upstream at adapt time; set 'to <upstream>' in fitbit_proxy", base)
	}
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return h.Errf("fitbit_proxy: api_base %q is not a URL; set 'to <upstream>' in fitbit_proxy", base)
	}
	if u.Path != "" && u.Path != "/" {
		return h.Errf("fitbit_proxy: api_base %q has a path; apps call the provider's paths (/1/user/-/…) unchanged, so api_base must be scheme://host[:port]", base)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	rp.Upstreams = reverseproxy.UpstreamPool{{Dial: net.JoinHostPort(u.Hostname(), port)}}
	if u.Scheme == "https" {
		return transport.EnableTLS(&reverseproxy.TLSConfig{})
	}
	return nil
}
