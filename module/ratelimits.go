package module

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/connect"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// RateLimit allows Events per Period, Burst of them at once.
type RateLimit struct {
	Events int            `json:"events"`
	Period caddy.Duration `json:"period"`
	// Default: Events.
	Burst int `json:"burst,omitempty"`
}

// RateLimits bound the unauthenticated and browser-facing endpoints. Each
// unset limit has its default; with the redis store they hold for the whole
// cluster, with storage for each instance alone.
type RateLimits struct {
	// /fitbit/authorize, /fitbit/callback and /oauth/authorize per client
	// IP (Caddy's client_ip: trusted_proxies decide) and per identity
	// (the caller's; for /oauth/authorize the request token's).
	// Defaults: 600 a minute, burst 300 (an office or a carrier NAT is one IP); 60 a minute, burst 30.
	BrowserPerIP       *RateLimit `json:"browser_per_ip,omitempty"`
	BrowserPerIdentity *RateLimit `json:"browser_per_identity,omitempty"`
	// /oauth/request_token and /oauth/access_token per client IP (the
	// legacy app's server, for all its users) and, at access_token, per
	// request token. Defaults: 1200 a minute, burst 300; 30 a minute,
	// burst 10.
	TokenPerIP       *RateLimit `json:"token_per_ip,omitempty"`
	TokenPerIdentity *RateLimit `json:"token_per_identity,omitempty"`
	// Failed OAuth 1.0a signatures, unknown tokens and wrong verifiers per
	// consumer key and per token; past them the consumer or token is
	// answered 429 until Retry-After. Defaults: 600 a minute, burst 300;
	// 10 per 10 minutes.
	FailuresPerConsumer *RateLimit `json:"failures_per_consumer,omitempty"`
	FailuresPerToken    *RateLimit `json:"failures_per_token,omitempty"`
	// Authorizations in flight per identity (a browser's revisits reuse
	// its own). Default: 10.
	MaxPendingPerIdentity int `json:"max_pending_per_identity,omitempty"`
}

// Defaults of RateLimits, high above what people and apps do.
var (
	defaultBrowserPerIP        = ratelimit.Limit{Events: 600, Period: time.Minute, Burst: 300}
	defaultBrowserPerIdentity  = ratelimit.Limit{Events: 60, Period: time.Minute, Burst: 30}
	defaultTokenPerIP          = ratelimit.Limit{Events: 1200, Period: time.Minute, Burst: 300}
	defaultTokenPerIdentity    = ratelimit.Limit{Events: 30, Period: time.Minute, Burst: 10}
	defaultFailuresPerConsumer = ratelimit.Limit{Events: 600, Period: time.Minute, Burst: 300}
	defaultFailuresPerToken    = ratelimit.Limit{Events: 10, Period: 10 * time.Minute}
)

func (l *RateLimit) or(def ratelimit.Limit) ratelimit.Limit {
	if l == nil {
		return def
	}
	return ratelimit.Limit{Events: l.Events, Period: time.Duration(l.Period), Burst: l.Burst}
}

func (rl *RateLimits) orZero() *RateLimits {
	if rl == nil {
		return &RateLimits{}
	}
	return rl
}

// validate checks every limit that is set.
func (rl *RateLimits) validate() error {
	rl = rl.orZero()
	var errs []error
	for name, l := range map[string]*RateLimit{
		"browser_per_ip": rl.BrowserPerIP, "browser_per_identity": rl.BrowserPerIdentity,
		"token_per_ip": rl.TokenPerIP, "token_per_identity": rl.TokenPerIdentity,
		"failures_per_consumer": rl.FailuresPerConsumer, "failures_per_token": rl.FailuresPerToken,
	} {
		if l != nil && (l.Events <= 0 || l.Period <= 0 || l.Burst < 0) {
			errs = append(errs, fmt.Errorf("rate_limits.%s: want events > 0 per a period > 0 (and a burst ≥ 0)", name))
		}
	}
	if rl.MaxPendingPerIdentity < 0 {
		errs = append(errs, errors.New("rate_limits.max_pending_per_identity must not be negative"))
	}
	return errors.Join(errs...)
}

// newLimiter is the store's limiter: Redis's for the redis store (shared by
// the cluster), else one in this process's memory.
func newLimiter(store tokenstore.Store) ratelimit.Limiter {
	if rs, ok := store.(*redisstore.Store); ok {
		return ratelimit.NewRedis(rs.Client(), rs.Prefix()+":ratelimit")
	}
	return ratelimit.NewMemory(0)
}

// browserGate bounds the browser steps of connect and legacy flows.
func (a *App) browserGate(logger *zap.Logger) *ratelimit.Gate {
	rl := a.RateLimits.orZero()
	return &ratelimit.Gate{Limiter: a.state.limiter, Name: "browser", Logger: logger,
		PerIP: rl.BrowserPerIP.or(defaultBrowserPerIP), PerIdentity: rl.BrowserPerIdentity.or(defaultBrowserPerIdentity)}
}

// tokenGate bounds the OAuth 1.0a token endpoints.
func (a *App) tokenGate(logger *zap.Logger) *ratelimit.Gate {
	rl := a.RateLimits.orZero()
	return &ratelimit.Gate{Limiter: a.state.limiter, Name: "oauth1_token", Logger: logger,
		PerIP: rl.TokenPerIP.or(defaultTokenPerIP), PerIdentity: rl.TokenPerIdentity.or(defaultTokenPerIdentity)}
}

// failureLimits bound failed OAuth 1.0a attempts.
func (a *App) failureLimits() legacy.FailureLimits {
	rl := a.RateLimits.orZero()
	return legacy.FailureLimits{Limiter: a.state.limiter,
		PerConsumer: rl.FailuresPerConsumer.or(defaultFailuresPerConsumer), PerToken: rl.FailuresPerToken.or(defaultFailuresPerToken)}
}

// maxPending caps an identity's authorizations in flight.
func (a *App) maxPending() int {
	if n := a.RateLimits.orZero().MaxPendingPerIdentity; n > 0 {
		return n
	}
	return connect.DefaultMaxPending
}

// clientIP is Caddy's client_ip variable: the peer, or with
// trusted_proxies the client a trusted proxy names.
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// unmarshalRateLimits reads
//
//	rate_limits {
//	    browser_per_ip        <events> <period> [<burst>]
//	    browser_per_identity  <events> <period> [<burst>]
//	    token_per_ip          <events> <period> [<burst>]
//	    token_per_identity    <events> <period> [<burst>]
//	    failures_per_consumer <events> <period> [<burst>]
//	    failures_per_token    <events> <period> [<burst>]
//	    max_pending_per_identity <n>
//	}
func unmarshalRateLimits(d *caddyfile.Dispenser) (*RateLimits, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	rl := &RateLimits{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		args := d.RemainingArgs()
		if name == "max_pending_per_identity" {
			n, err := strconv.Atoi(firstArg(args))
			if len(args) != 1 || err != nil || n < 1 {
				return nil, d.Errf("rate_limits: max_pending_per_identity takes one whole number ≥ 1")
			}
			rl.MaxPendingPerIdentity = n
			continue
		}
		target := map[string]**RateLimit{
			"browser_per_ip": &rl.BrowserPerIP, "browser_per_identity": &rl.BrowserPerIdentity,
			"token_per_ip": &rl.TokenPerIP, "token_per_identity": &rl.TokenPerIdentity,
			"failures_per_consumer": &rl.FailuresPerConsumer, "failures_per_token": &rl.FailuresPerToken,
		}[name]
		if target == nil {
			return nil, d.Errf("rate_limits: unknown option %q", name)
		}
		l, err := parseRateLimit(args)
		if err != nil {
			return nil, d.Errf("rate_limits: %s: %v", name, err)
		}
		*target = l
	}
	return rl, nil
}

func parseRateLimit(args []string) (*RateLimit, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, errors.New("want <events> <period> [<burst>], e.g. 60 1m 30")
	}
	events, err := strconv.Atoi(args[0])
	if err != nil || events < 1 {
		return nil, fmt.Errorf("events %q: want a whole number ≥ 1", args[0])
	}
	period, err := caddy.ParseDuration(args[1])
	if err != nil || period <= 0 {
		return nil, fmt.Errorf("period %q: want a duration such as 1m", args[1])
	}
	l := &RateLimit{Events: events, Period: caddy.Duration(period)}
	if len(args) == 3 {
		if l.Burst, err = strconv.Atoi(args[2]); err != nil || l.Burst < 1 {
			return nil, fmt.Errorf("burst %q: want a whole number ≥ 1", args[2])
		}
	}
	return l, nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
