package module

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
)

// upstreamPolicy is where the fitbit transport may send a user's token: the
// registration's API base (its host and port), and the hosts the config
// names in allow_upstream. Anything else is refused when the config loads
// and, for upstreams only known per request, before each round trip.
type upstreamPolicy struct {
	apiHost, apiPort string
	apiTLS           bool
	// allowed are allow_upstream's entries: a host (any port) or host:port.
	allowed []hostPort
	log     *zap.Logger
}

type hostPort struct{ host, port string } // port "" for any

func newUpstreamPolicy(apiBase string, allow []string, log *zap.Logger) (*upstreamPolicy, error) {
	u, err := url.Parse(apiBase)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("fitbit transport: api_base %q is not an http(s) URL", apiBase)
	}
	p := &upstreamPolicy{apiHost: u.Hostname(), apiPort: u.Port(), apiTLS: u.Scheme == "https", log: log}
	if p.apiPort == "" {
		p.apiPort = defaultPort(p.apiTLS)
	}
	for _, a := range allow {
		hp, err := parseAllowed(a)
		if err != nil {
			return nil, err
		}
		p.allowed = append(p.allowed, hp)
	}
	return p, nil
}

// parseAllowed reads one allow_upstream entry.
func parseAllowed(s string) (hostPort, error) {
	bad := fmt.Errorf("fitbit transport: allow_upstream %q: want a host or host:port, such as api.fitbit.com or 127.0.0.1:8443", s)
	if s == "" || strings.ContainsAny(s, "/{}*@ ") {
		return hostPort{}, bad
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || host == "" {
			return hostPort{}, bad
		}
		return hostPort{host, port}, nil
	}
	if strings.Contains(strings.Trim(s, "[]"), ":") && !strings.HasPrefix(s, "[") {
		return hostPort{}, bad // an IPv6 address needs brackets: [::1]
	}
	return hostPort{strings.Trim(s, "[]"), ""}, nil
}

// isAPI reports whether host:port is the API base's.
func (p *upstreamPolicy) isAPI(host, port string) bool {
	return port == p.apiPort && strings.EqualFold(host, p.apiHost)
}

// allows reports whether host:port may receive the token.
func (p *upstreamPolicy) allows(host, port string) bool {
	if p.isAPI(host, port) {
		return true
	}
	for _, a := range p.allowed {
		if (a.port == "" || a.port == port) && strings.EqualFold(a.host, host) {
			return true
		}
	}
	return false
}

// apiBase names the API base in messages.
func (p *upstreamPolicy) apiBase() string { return net.JoinHostPort(p.apiHost, p.apiPort) }

// guard checks the upstreams of the reverse_proxy that holds transport t,
// which Caddy provisions after its transport: each must be the API base or
// allowed, an API base reached over https must be dialed with TLS, and with
// no upstream at all the API base becomes the upstream. ctx.Modules() ends
// with that handler and this transport; a transport provisioned elsewhere
// has nothing to check here (the per-request check still applies).
func (p *upstreamPolicy) guard(ctx caddy.Context, t *Transport) error {
	mods := ctx.Modules()
	if len(mods) < 2 {
		return nil
	}
	h, ok := mods[len(mods)-2].(*reverseproxy.Handler)
	if !ok {
		return nil
	}
	if h.DynamicUpstreamsRaw != nil && len(p.allowed) == 0 {
		return fmt.Errorf("fitbit transport: dynamic upstreams cannot be checked when the config loads, and the transport sends the user's token to whatever they return: name the hosts they may return with allow_upstream (each request is then checked)")
	}
	if len(h.Upstreams) == 0 && h.DynamicUpstreamsRaw == nil {
		h.Upstreams = reverseproxy.UpstreamPool{{Dial: p.apiBase()}}
		if p.apiTLS && !t.TLSEnabled() {
			return t.EnableTLS(&reverseproxy.TLSConfig{})
		}
		return nil
	}
	for _, u := range h.Upstreams {
		if strings.ContainsAny(u.Dial, "{}") {
			if len(p.allowed) == 0 {
				return fmt.Errorf("fitbit transport: upstream %q holds a placeholder, so where the user's token goes is known only per request: name the hosts it may be with allow_upstream (each request is then checked)", u.Dial)
			}
			continue
		}
		addr, err := caddy.ParseNetworkAddress(u.Dial)
		if err != nil {
			return fmt.Errorf("fitbit transport: upstream %q: %v", u.Dial, err)
		}
		port := strconv.FormatUint(uint64(addr.StartPort), 10)
		if addr.IsUnixNetwork() || addr.PortRangeSize() != 1 || !p.allows(addr.Host, port) {
			return fmt.Errorf("fitbit transport: upstream %q is not the provider's API (api_base %s), and the transport would send it the user's token: point reverse_proxy at the API, or name that host in allow_upstream if it is meant to get the token", u.Dial, p.apiBase())
		}
		if p.apiTLS && p.isAPI(addr.Host, port) && !t.TLSEnabled() {
			return fmt.Errorf("fitbit transport: upstream %q is the API base over https, but the transport has no TLS, so the user's token would travel in clear: write the upstream as https://%s, or enable tls in the http transport", u.Dial, p.apiBase())
		}
	}
	return nil
}

// request reports whether r is going to a host that may receive the token.
// Caddy's reverse proxy puts what it dials in the request's context; outside
// it, the request's URL says.
func (p *upstreamPolicy) request(r *http.Request) bool {
	var host, port string
	if di, ok := reverseproxy.GetDialInfo(r.Context()); ok {
		if di.Network != "" && di.Network != "tcp" && di.Network != "tcp4" && di.Network != "tcp6" {
			return p.refused(r, di.String())
		}
		host, port = di.Host, di.Port
	} else {
		host, port = r.URL.Hostname(), r.URL.Port()
		if port == "" {
			port = defaultPort(r.URL.Scheme == "https")
		}
	}
	if p.allows(host, port) {
		return true
	}
	return p.refused(r, net.JoinHostPort(host, port))
}

func (p *upstreamPolicy) refused(r *http.Request, dialed string) bool {
	p.log.Error("refused to send a user's token to an upstream that is neither the provider's API nor allowed (allow_upstream)",
		zap.String("upstream", dialed), zap.String("api_base", p.apiBase()), zap.String("uri", r.URL.Path))
	return false
}

func defaultPort(tls bool) string {
	if tls {
		return "443"
	}
	return "80"
}
