package module

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
)

// The collectors are process-wide so counts survive config reloads; each
// config's registry (Caddy makes one per config) gets them registered.
var (
	metricsOnce sync.Once
	metrics     *observer
)

type observer struct {
	refreshes *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	proxied   *prometheus.CounterVec
	oauth1    *prometheus.CounterVec
	// translated counts Fitbit calls answered from Google, googleCalls the
	// Google calls they cost (by endpoint: the mapping table's, a bounded
	// set).
	translated  *prometheus.CounterVec
	googleCalls *prometheus.CounterVec
	// outcomes are proxied's counters resolved once: WithLabelValues on the
	// hot path would hash the label and take a lock for every request.
	outcomes sync.Map // inject.Outcome → prometheus.Counter
}

func (o *observer) Refreshed(result tokens.Result, took time.Duration) {
	o.refreshes.WithLabelValues(string(result)).Inc()
	if took > 0 {
		o.latency.WithLabelValues(string(result)).Observe(took.Seconds())
	}
}

func (o *observer) Proxied(outcome inject.Outcome) {
	if c, ok := o.outcomes.Load(outcome); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := o.proxied.WithLabelValues(string(outcome))
	o.outcomes.Store(outcome, c)
	c.Inc()
}

// OAuth1 counts a legacy OAuth 1.0a token-endpoint call or signed call.
func (o *observer) OAuth1(endpoint, result string) { o.oauth1.WithLabelValues(endpoint, result).Inc() }

// Translated counts a Fitbit call answered from Google: its endpoint (""
// when refused before it was known), status and Google calls.
func (o *observer) Translated(endpoint string, status, calls int) {
	if endpoint == "" {
		endpoint = "none"
	}
	o.translated.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	if calls > 0 {
		o.googleCalls.WithLabelValues(endpoint).Add(float64(calls))
	}
}

// registerMetrics registers the collectors with ctx's registry and returns
// the observer feeding them.
func registerMetrics(ctx caddy.Context) *observer {
	metricsOnce.Do(func() {
		const ns, sub = "caddy", "fitbit"
		metrics = &observer{
			refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "refreshes_total",
				Help: "Token refreshes by result (ok, peer, recovered, invalid_grant, transient, error, store_error).",
			}, []string{"result"}),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ns, Subsystem: sub, Name: "token_endpoint_duration_seconds",
				Help:    "Round-trip time of refresh calls to the provider's token endpoint, by result.",
				Buckets: prometheus.DefBuckets,
			}, []string{"result"}),
			proxied: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "proxied_requests_total",
				Help: "Requests through the fitbit transport by outcome.",
			}, []string{"outcome"}),
			oauth1: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "oauth1_requests_total",
				Help: "Legacy OAuth 1.0a requests by endpoint (request_token, access_token, api) and result (ok, or the fieldName of the error: oauth_signature, oauth_nonce, …; store_unavailable, rate_limited).",
			}, []string{"endpoint", "result"}),
			translated: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "translated_requests_total",
				Help: "Fitbit calls answered from the Google Health API, by endpoint (none: refused before one was known) and status.",
			}, []string{"endpoint", "status"}),
			googleCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "translated_google_calls_total",
				Help: "Google Health API calls made to answer Fitbit calls, by endpoint (each is also a proxied request).",
			}, []string{"endpoint"}),
		}
	})
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		for _, c := range []prometheus.Collector{metrics.refreshes, metrics.latency, metrics.proxied, metrics.oauth1, metrics.translated, metrics.googleCalls} {
			var are prometheus.AlreadyRegisteredError
			if err := reg.Register(c); err != nil && !errors.As(err, &are) {
				caddy.Log().Named("fitbit").Warn("could not register metric")
			}
		}
	}
	rateMetrics.register(ctx) // metrics_ratelimit.go
	registerKeyMetrics(ctx)   // metrics_keys.go
	return metrics
}
