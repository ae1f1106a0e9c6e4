// Package caddyfile adds caddy-fitbit to the Caddyfile: the fitbit global
// option, the fitbit_auth directive, and the fitbit_proxy shortcut, which
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

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/module"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("fitbit", parseGlobal)
	httpcaddyfile.RegisterDirective("fitbit_auth", parseAuth)
	httpcaddyfile.RegisterDirective("fitbit_proxy", parseProxy)
	// The connect endpoints right after authentication (basic_auth and
	// forward_auth come first), before handle/respond blocks that could
	// shadow them; the proxy where reverse_proxy would be.
	httpcaddyfile.RegisterDirectiveOrder("fitbit_auth", httpcaddyfile.After, "forward_auth")
	httpcaddyfile.RegisterDirectiveOrder("fitbit_proxy", httpcaddyfile.Before, "reverse_proxy")
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

// parseAuth reads fitbit_auth [<prefix>] { … }. It takes no matcher: the
// prefix is what selects its requests, and a leading "/" argument must not be
// mistaken for a path matcher (as a handler directive's would).
func parseAuth(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	handler := new(module.AuthHandler)
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
//	    max_replay_body <size>
//	    <any reverse_proxy subdirective, e.g. to, lb_try_duration, header_down>
//	}
//
// into reverse_proxy to the app's API base with the fitbit transport and the
// upstream's Host header.
func parseProxy(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	h.Next() // directive name
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	transport := new(module.Transport)
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
				dispenser.RemainingArgs()
			case "provider", "identity", "max_replay_body":
				name, args := dispenser.Val(), dispenser.RemainingArgs()
				if err := transport.SetOption(name, args); err != nil {
					return nil, dispenser.Errf("%v", err)
				}
				dispenser.DeleteN(len(args) + 1)
			case "transport":
				return nil, dispenser.Err("fitbit_proxy sets its own transport; use reverse_proxy with 'transport fitbit' for full control")
			}
		}
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
		if err := json.Unmarshal(rp.TransportRaw, transport.HTTPTransport()); err != nil {
			return nil, h.Errf("fitbit_proxy: carrying over transport settings: %v", err)
		}
		rp.TransportRaw = nil
	}
	if len(rp.Upstreams) == 0 {
		base, err := apiBase(h)
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return nil, h.Errf("fitbit_proxy: api_base %q is not a URL; set 'to <upstream>' in fitbit_proxy", base)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
		}
		rp.Upstreams = reverseproxy.UpstreamPool{{Dial: net.JoinHostPort(u.Hostname(), port)}}
		if u.Scheme == "https" {
			if err := transport.EnableTLS(&reverseproxy.TLSConfig{}); err != nil {
				return nil, err
			}
		}
		if u.Path != "" && u.Path != "/" {
			return nil, h.Errf("fitbit_proxy: api_base %q has a path; apps call the provider's paths (/1/user/-/…) unchanged, so api_base must be scheme://host[:port]", base)
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
	return h.NewRoute(matcherSet, rp), nil
}

// apiBase is the fitbit app's API base from the global option, or Fitbit's.
func apiBase(h httpcaddyfile.Helper) (string, error) {
	base := provider.Fitbit.Endpoints.APIBase
	if opt, ok := h.Option("fitbit").(httpcaddyfile.App); ok {
		var app module.App
		if err := json.Unmarshal(opt.Value, &app); err != nil {
			return "", fmt.Errorf("fitbit_proxy: reading the fitbit global option: %w", err)
		}
		if app.Endpoints.APIBase != "" {
			base = app.Endpoints.APIBase
		}
	}
	if strings.Contains(base, "{") {
		return "", h.Errf("fitbit_proxy: api_base %q holds a placeholder, which cannot name an upstream at adapt time; set 'to <upstream>' in fitbit_proxy", base)
	}
	return strings.TrimRight(base, "/"), nil
}
