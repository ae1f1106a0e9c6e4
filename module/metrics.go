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

// observer holds the collectors. Every metric has a provider label (the
// registration name); providerMetrics resolves it once per registration.
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
	// oauth2 counts the OAuth 2.0 front's requests (metrics_oauth2.go).
	oauth2 *prometheus.CounterVec
	// The connection lifecycle (metrics_obs.go).
	lifecycle

	providers sync.Map // registration name → *providerMetrics
}

// providerMetrics feeds the collectors for one registration.
type providerMetrics struct {
	o    *observer
	name string
	// outcomes are proxied's counters resolved once: WithLabelValues on the
	// hot path would hash the labels and take a lock for every request.
	outcomes sync.Map // inject.Outcome → prometheus.Counter
	// oauth2Outcomes are oauth2's, resolved once for the same reason (the
	// front counts every API call).
	oauth2Outcomes sync.Map // oauth2Outcome → prometheus.Counter
	lifecycleCounters
}

// of returns the metrics of the registration name, made on first use.
func (o *observer) of(name string) *providerMetrics {
	if p, ok := o.providers.Load(name); ok {
		return p.(*providerMetrics)
	}
	p, _ := o.providers.LoadOrStore(name, &providerMetrics{o: o, name: name, lifecycleCounters: o.lifecycle.resolve(name)})
	return p.(*providerMetrics)
}

func (p *providerMetrics) Refreshed(result tokens.Result, took time.Duration) {
	p.o.refreshes.WithLabelValues(p.name, string(result)).Inc()
	if took > 0 {
		p.o.latency.WithLabelValues(p.name, string(result)).Observe(took.Seconds())
	}
}

func (p *providerMetrics) Proxied(outcome inject.Outcome) {
	if outcome == inject.OutcomeUnreadable {
		p.unreadable.Inc()
	}
	if c, ok := p.outcomes.Load(outcome); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := p.o.proxied.WithLabelValues(p.name, string(outcome))
	p.outcomes.Store(outcome, c)
	c.Inc()
}

// OAuth1 counts a legacy OAuth 1.0a token-endpoint call or signed call.
func (p *providerMetrics) OAuth1(endpoint, result string) {
	p.o.oauth1.WithLabelValues(p.name, endpoint, result).Inc()
}

// Translated counts a Fitbit call answered from Google: its endpoint (""
// when refused before it was known), status and Google calls.
func (p *providerMetrics) Translated(endpoint string, status, calls int) {
	if endpoint == "" {
		endpoint = "none"
	}
	p.o.translated.WithLabelValues(p.name, endpoint, strconv.Itoa(status)).Inc()
	if calls > 0 {
		p.o.googleCalls.WithLabelValues(p.name, endpoint).Add(float64(calls))
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
				Help: "Token refreshes by provider and result (ok, peer, recovered, invalid_grant, transient, error, store_error).",
			}, []string{"provider", "result"}),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ns, Subsystem: sub, Name: "token_endpoint_duration_seconds",
				Help:    "Round-trip time of refresh calls to the provider's token endpoint, by provider and result.",
				Buckets: prometheus.DefBuckets,
			}, []string{"provider", "result"}),
			proxied: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "proxied_requests_total",
				Help: "Requests through the fitbit transport by provider and outcome.",
			}, []string{"provider", "outcome"}),
			oauth1: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "oauth1_requests_total",
				Help: "Legacy OAuth 1.0a requests by provider (the registration its users connect to), endpoint (request_token, access_token, api) and result (ok, or the fieldName of the error: oauth_signature, oauth_nonce, …; store_unavailable, rate_limited).",
			}, []string{"provider", "endpoint", "result"}),
			translated: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "translated_requests_total",
				Help: "Fitbit calls answered from the Google Health API, by provider (the Google Health registration), endpoint (none: refused before one was known) and status.",
			}, []string{"provider", "endpoint", "status"}),
			googleCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "translated_google_calls_total",
				Help: "Google Health API calls made to answer Fitbit calls, by provider and endpoint (each is also a proxied request).",
			}, []string{"provider", "endpoint"}),
			oauth2: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "oauth2_requests_total",
				Help: "Requests to the Fitbit OAuth 2.0 front by upstream registration (provider), endpoint (authorize, token, revoke, introspect, api) and result (ok; consent: sent to the upstream consent; else the error: invalid_grant, invalid_client, access_denied, expired_token, invalid_token, …; rate_limited, store_unavailable, method_not_allowed).",
			}, []string{"provider", "endpoint", "result"}),
			lifecycle: newLifecycle(ns, sub),
		}
	})
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		for _, c := range append([]prometheus.Collector{metrics.refreshes, metrics.latency, metrics.proxied, metrics.oauth1, metrics.translated, metrics.googleCalls, metrics.oauth2}, metrics.lifecycle.collectors()...) {
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
