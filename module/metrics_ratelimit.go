package module

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// rateMetrics count the 429s of the provider budgets, process-wide like
// metrics.go's collectors so counts survive reloads.
var rateMetrics = &rateObserver{
	total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "fitbit", Name: "rate_limited_total",
		Help: "Calls towards a provider answered 429, by provider registration and by whom: gateway (its budget was spent; not sent) or upstream (the provider's 429).",
	}, []string{"provider", "by"}),
}

type rateObserver struct {
	total *prometheus.CounterVec
}

// limited returns the counter of provider's 429s for ratelimit.Budget's
// OnLimited, its two series resolved once.
func (o *rateObserver) limited(provider string) func(local bool) {
	gateway, upstream := o.total.WithLabelValues(provider, "gateway"), o.total.WithLabelValues(provider, "upstream")
	return func(local bool) {
		if local {
			gateway.Inc()
		} else {
			upstream.Inc()
		}
	}
}

// register registers the collectors with ctx's registry (each config has
// its own).
func (o *rateObserver) register(ctx caddy.Context) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return
	}
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(o.total); err != nil && !errors.As(err, &are) {
		caddy.Log().Named("fitbit").Warn("could not register metric")
	}
}
