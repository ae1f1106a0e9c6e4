package module

import (
	"errors"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The OAuth 2.0 front's counter is process-wide, like the others
// (metrics.go), so counts survive config reloads.
var (
	oauth2MetricsOnce sync.Once
	oauth2Requests    *prometheus.CounterVec
)

// oauth2Outcome is one series of oauth2Requests.
type oauth2Outcome struct{ provider, endpoint, result string }

// oauth2Observer counts the front's requests (authserver.Server.Observe)
// by the upstream registration of the app, endpoint and result.
type oauth2Observer struct {
	// providerOf is the registration of each client id; def, the
	// front's default, counts requests whose app is not known (yet).
	providerOf map[string]string
	def        string
	// counters are the series resolved once: Observe runs on every API
	// call, and WithLabelValues would hash the labels and lock each time.
	counters sync.Map // oauth2Outcome → prometheus.Counter
}

// Observe is the authserver's hook.
func (o *oauth2Observer) Observe(client, endpoint, result string) {
	p, ok := o.providerOf[client]
	if !ok {
		p = o.def
	}
	key := oauth2Outcome{p, endpoint, result}
	if c, ok := o.counters.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := oauth2Requests.WithLabelValues(p, endpoint, result)
	o.counters.Store(key, c)
	c.Inc()
}

// registerOAuth2Metrics registers the front's counter with ctx's registry
// and returns an observer for a handler whose apps connect to providerOf
// (by client id), def for requests of no known app.
func registerOAuth2Metrics(ctx caddy.Context, providerOf map[string]string, def string) *oauth2Observer {
	oauth2MetricsOnce.Do(func() {
		oauth2Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "fitbit", Name: "oauth2_requests_total",
			Help: "Requests to the Fitbit OAuth 2.0 front by upstream registration (provider), endpoint (authorize, token, revoke, introspect, api) and result (ok; consent: sent to the upstream consent; else the error: invalid_grant, invalid_client, access_denied, expired_token, invalid_token, …; rate_limited, store_unavailable, method_not_allowed).",
		}, []string{"provider", "endpoint", "result"})
	})
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(oauth2Requests); err != nil && !errors.As(err, &are) {
			caddy.Log().Named("fitbit").Warn("could not register metric")
		}
	}
	return &oauth2Observer{providerOf: providerOf, def: def}
}
