package module

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
)

func init() {
	caddy.RegisterModule(Transport{})
}

// Transport is the reverse-proxy transport that injects the caller's
// provider credentials. It wraps Caddy's HTTP transport, whose options sit
// under "http", and passes through the optional interfaces reverse_proxy
// looks for (TLS, H2C, PROXY protocol, health-check scheme, header ops,
// buffering), so it behaves as the http transport would.
type Transport struct {
	// Provider registration in the fitbit app. Default: the app's only one.
	Provider string `json:"provider,omitempty"`
	// Placeholder expression naming the caller. Default: {http.auth.user.id}.
	Identity string `json:"identity,omitempty"`
	// Request bodies up to this size are buffered so the request can be
	// replayed after a refresh. Default: 1 MiB.
	MaxReplayBody int64 `json:"max_replay_body,omitempty"`
	// How long buffering a request body for replay may take; a body that
	// has not arrived by then is answered 408 and not sent. Caddy's server
	// timeouts (read_body, read_idle_timeout) still bound the whole read.
	// Default: 10s.
	ReplayBodyTimeout caddy.Duration `json:"replay_body_timeout,omitempty"`
	// Hosts besides the API base that may receive the user's token: a host
	// (any port) or host:port. The transport refuses to load when an
	// upstream of its reverse_proxy is neither the registration's api_base
	// (its host and port) nor listed here, and dynamic upstreams (or ones
	// with placeholders) need this list; each request is checked too.
	// A reverse_proxy with no upstream goes to the API base.
	AllowUpstreams []string `json:"allow_upstreams,omitempty"`
	// The wrapped HTTP transport (same options as reverse_proxy's "http").
	HTTP *reverseproxy.HTTPTransport `json:"http,omitempty"`
	// Answer Fitbit Web API calls from the Google Health API (see
	// Translate). Default: the fitbit app's translate, else fallback from
	// its google_health registration when there is one.
	Translate *Translate `json:"translate,omitempty"`

	inject inject.Transport
	// The translation, when on: router chooses Fitbit or Google per call;
	// googleInject and google call Google for it.
	router        http.RoundTripper
	googleInject  *inject.Transport
	google        *http.Transport
	translateFrom string
	// connectURLs resolves the connect URLs on the first request (see
	// App.connectURLFor): fitbit_auth handlers may be provisioned after
	// this transport.
	connectURLs *sync.Once
	resolve     func()
}

// CaddyModule returns the Caddy module information.
func (Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.fitbit",
		New: func() caddy.Module { return new(Transport) },
	}
}

// http returns the wrapped HTTP transport, creating it if needed.
func (t *Transport) http() *reverseproxy.HTTPTransport {
	if t.HTTP == nil {
		t.HTTP = new(reverseproxy.HTTPTransport)
	}
	return t.HTTP
}

// Provision wires to the fitbit app, checks (or sets) the upstreams of the
// reverse_proxy against the API base, and sets up the wrapped transport.
func (t *Transport) Provision(ctx caddy.Context) error {
	app, err := fitbitApp(ctx)
	if err != nil {
		return err
	}
	mgr, err := app.manager(t.Provider)
	if err != nil {
		return err
	}
	if t.MaxReplayBody < 0 {
		return fmt.Errorf("fitbit transport: max_replay_body must not be negative")
	}
	if t.ReplayBodyTimeout < 0 {
		return fmt.Errorf("fitbit transport: replay_body_timeout must not be negative")
	}
	warnConstantIdentity(ctx, t.Identity)
	reg := mgr.Provider().Reg
	upstreams, err := newUpstreamPolicy(reg.Endpoints.APIBase, t.AllowUpstreams, ctx.Logger())
	if err != nil {
		return err
	}
	// Before the http transport's Provision: a default upstream of an
	// https API base enables TLS, which Provision builds in.
	if err := upstreams.guard(ctx, t); err != nil {
		return err
	}
	if err := t.http().Provision(ctx); err != nil {
		return fmt.Errorf("fitbit transport: http: %w", err)
	}
	t.inject = inject.Transport{
		Base:     t.HTTP,
		Tokens:   mgr,
		Provider: mgr.Provider(),
		OnGone: func() {
			ctx.Logger().Warn("the provider answered 410 Gone: its API is turned off", zap.String("provider", reg.Name))
		},
		Identity:          identityFunc(t.Identity),
		MaxReplayBody:     t.MaxReplayBody,
		ReplayBodyTimeout: time.Duration(t.ReplayBodyTimeout),
		BodyDeadline:      bodyDeadline,
		Observer:          metrics.of(reg.Name),
		Upstream:          upstreams.request,
		RefreshOn:         reg.Preset.RefreshOn,
		Migrated:          app.migratedFrom(reg.Name),
	}
	if b := app.budget(reg, ctx.Logger()); b != nil {
		t.inject.Budget = b
		t.inject.Now = budgetNow
	}
	if err := t.provisionTranslation(app, mgr, ctx.Logger()); err != nil {
		return err
	}
	t.connectURLs = new(sync.Once)
	t.resolve = func() {
		t.inject.ConnectURL = app.connectURLFor(reg.Name)
		t.inject.SuccessorTitle, t.inject.SuccessorURL = app.successorOf(reg)
		if t.googleInject != nil {
			t.googleInject.ConnectURL = app.connectURLFor(t.translateFrom)
		}
	}
	return nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.connectURLs.Do(t.resolve)
	if t.router != nil {
		return t.router.RoundTrip(req)
	}
	return t.inject.RoundTrip(req)
}

// Cleanup closes the wrapped transport's idle connections.
func (t *Transport) Cleanup() error {
	if t.google != nil {
		t.google.CloseIdleConnections()
	}
	if t.HTTP == nil {
		return nil
	}
	return t.HTTP.Cleanup()
}

// TLSEnabled implements reverseproxy.TLSTransport.
func (t *Transport) TLSEnabled() bool { return t.http().TLSEnabled() }

// EnableTLS implements reverseproxy.TLSTransport.
func (t *Transport) EnableTLS(base *reverseproxy.TLSConfig) error { return t.http().EnableTLS(base) }

// EnableH2C implements reverseproxy.H2CTransport.
func (t *Transport) EnableH2C() error { return t.http().EnableH2C() }

// ProxyProtocolEnabled implements reverseproxy.ProxyProtocolTransport.
func (t *Transport) ProxyProtocolEnabled() bool { return t.http().ProxyProtocolEnabled() }

// OverrideHealthCheckScheme implements
// reverseproxy.HealthCheckSchemeOverriderTransport.
func (t *Transport) OverrideHealthCheckScheme(base *url.URL, port string) {
	t.http().OverrideHealthCheckScheme(base, port)
}

// RequestHeaderOps implements reverseproxy.RequestHeaderOpsTransport: with
// TLS, the Host header becomes the upstream's, as with the http transport.
func (t *Transport) RequestHeaderOps() *headers.HeaderOps { return t.http().RequestHeaderOps() }

// UnmarshalCaddyfile sets up the transport from Caddyfile tokens:
//
//	transport fitbit {
//	    provider        <name>
//	    identity        <placeholder expression>
//	    max_replay_body     <size>
//	    replay_body_timeout <duration>
//	    allow_upstream      <host[:port]>...
//	    translate           [<registration>] off|fallback|always
//	    http {
//	        <any option of the http transport>
//	    }
//	}
func (t *Transport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // transport name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := t.unmarshalOption(d); err != nil {
			return err
		}
	}
	return nil
}

// unmarshalOption reads one transport subdirective at d.
func (t *Transport) unmarshalOption(d *caddyfile.Dispenser) error {
	if d.Val() == "http" {
		return t.http().UnmarshalCaddyfile(d.NewFromNextSegment())
	}
	name := d.Val()
	if err := t.SetOption(name, d.RemainingArgs()); err != nil {
		return d.Errf("%v", err)
	}
	return nil
}

// SetOption sets one of the transport's own subdirectives (provider,
// identity, max_replay_body, replay_body_timeout, allow_upstream, translate) from its
// arguments. It is the transport's Caddyfile surface for the fitbit_proxy
// shortcut, which finds these subdirectives among reverse_proxy's own and
// hands them here; a transport fitbit block reads them through
// UnmarshalCaddyfile.
func (t *Transport) SetOption(name string, args []string) error {
	if name == "allow_upstream" {
		if len(args) == 0 {
			return fmt.Errorf("fitbit transport: allow_upstream takes one or more hosts")
		}
		for _, a := range args {
			if _, err := parseAllowed(a); err != nil {
				return err
			}
		}
		t.AllowUpstreams = append(t.AllowUpstreams, args...)
		return nil
	}
	if name == "translate" {
		tr, err := parseTranslate(args)
		if err != nil {
			return fmt.Errorf("fitbit transport: %w", err)
		}
		t.Translate = tr
		return nil
	}
	if len(args) != 1 {
		return fmt.Errorf("fitbit transport: %s takes exactly one argument", name)
	}
	switch name {
	case "provider":
		t.Provider = args[0]
	case "identity":
		t.Identity = args[0]
	case "replay_body_timeout":
		d, err := caddy.ParseDuration(args[0])
		if err != nil || d <= 0 {
			return fmt.Errorf("fitbit transport: replay_body_timeout %q: want a duration such as 10s", args[0])
		}
		t.ReplayBodyTimeout = caddy.Duration(d)
	case "max_replay_body":
		size, err := humanize.ParseBytes(args[0])
		if err != nil || size > 1<<40 {
			return fmt.Errorf("fitbit transport: max_replay_body %q: want a size such as 1MiB", args[0])
		}
		t.MaxReplayBody = int64(size)
	default:
		return fmt.Errorf("fitbit transport: unknown subdirective %q (want provider, identity, max_replay_body, replay_body_timeout, allow_upstream, translate or http)", name)
	}
	return nil
}

// bodyDeadline puts a read deadline on the connection the request body
// arrives on, through the read-deadline hook of Caddy's server (present
// unless read_idle_timeout is off): a stalled read then returns at the
// deadline, over HTTP/1 and HTTP/2 alike. Lifting it restores the server's
// own deadlines.
func bodyDeadline(req *http.Request, deadline time.Time) func() {
	r, _ := caddyhttp.IdleTimeoutsFromContext(req.Context())
	if r == nil || r.SetReadDeadline(deadline) != nil {
		return nil
	}
	return func() { _ = r.SetReadDeadline(time.Time{}) }
}

// Interface guards: reverse_proxy discovers these by type assertion.
var (
	_ http.RoundTripper                                = (*Transport)(nil)
	_ caddy.Provisioner                                = (*Transport)(nil)
	_ caddy.CleanerUpper                               = (*Transport)(nil)
	_ caddyfile.Unmarshaler                            = (*Transport)(nil)
	_ reverseproxy.TLSTransport                        = (*Transport)(nil)
	_ reverseproxy.H2CTransport                        = (*Transport)(nil)
	_ reverseproxy.ProxyProtocolTransport              = (*Transport)(nil)
	_ reverseproxy.HealthCheckSchemeOverriderTransport = (*Transport)(nil)
	_ reverseproxy.RequestHeaderOpsTransport           = (*Transport)(nil)
)
