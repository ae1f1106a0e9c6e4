package module

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// lifecycle are the collectors of connections' lives: connects, denials,
// disconnects, imports, records no key opens, and the connections by
// health.
type lifecycle struct {
	connects, denials, disconnects, unreadable *prometheus.CounterVec
	imports                                    *prometheus.CounterVec
	connections                                *connectionGauge
}

// lifecycleCounters are lifecycle's counters of one provider, resolved
// once.
type lifecycleCounters struct {
	connects, denials, disconnects, unreadable prometheus.Counter
}

const connectionsHelp = "Stored connections by provider and health (ok, needs_reauth, record_unreadable): the last count of the store, kept up to date with this instance's own changes in between; absent until the first count."

func newLifecycle(ns, sub string) lifecycle {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, append([]string{"provider"}, labels...))
	}
	return lifecycle{
		connects:    counter("connects_total", "Connections made or renewed on this instance (a user's consent, or an import), by provider."),
		denials:     counter("denials_total", "Consents a user declined (access_denied) on this instance, by provider."),
		disconnects: counter("disconnects_total", "Connections deleted on this instance, by provider."),
		unreadable: counter("unreadable_records_total",
			"Times this instance met a stored connection no encryption key opens (a proxied call, a reconnection replacing it, a disconnection deleting it), by provider."),
		imports: counter("imports_total", "Connections imported by an operator, by provider and result (ok, dry_run, refused, error).", "result"),
		connections: &connectionGauge{desc: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "connections"), connectionsHelp,
			[]string{"provider", "health"}, nil)},
	}
}

func (l *lifecycle) resolve(provider string) lifecycleCounters {
	return lifecycleCounters{
		connects:    l.connects.WithLabelValues(provider),
		denials:     l.denials.WithLabelValues(provider),
		disconnects: l.disconnects.WithLabelValues(provider),
		unreadable:  l.unreadable.WithLabelValues(provider),
	}
}

func (l *lifecycle) collectors() []prometheus.Collector {
	return []prometheus.Collector{l.connects, l.denials, l.disconnects, l.unreadable, l.imports, l.connections}
}

// changed counts a change of a connection (tokens.Watcher, through the app).
func (p *providerMetrics) changed(c tokens.Change) {
	switch c.To {
	case tokenstore.StatusOK:
		p.connects.Inc()
	case "":
		p.disconnects.Inc()
	}
	if c.From == tokens.Unreadable {
		p.unreadable.Inc()
	}
	p.o.connections.add(p.name, c.From, -1)
	p.o.connections.add(p.name, c.To, +1)
}

// Denied counts a consent the user declined.
func (p *providerMetrics) Denied() { p.denials.Inc() }

// Imported counts an imported connection: result ok, dry_run (checked, not
// stored), refused (the provider refused its refresh token) or error.
func (p *providerMetrics) Imported(result string) {
	p.o.imports.WithLabelValues(p.name, result).Inc()
}

// connectionGauge is caddy_fitbit_connections: counts by provider and
// health that a scrape only reads. They are set by a count of the store
// (setCounts) and moved by this instance's own changes in between, so a
// scrape never reads the store.
type connectionGauge struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	// counts by provider, then health; nil until the first count of the
	// store, since changes alone would count from zero.
	counts map[string]map[tokenstore.Status]float64
}

func (g *connectionGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *connectionGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for provider, byHealth := range g.counts {
		for health, n := range byHealth {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, n, provider, string(health))
		}
	}
}

// add moves the count of provider's connections of status s by d; a status
// "" (none) counts nothing.
func (g *connectionGauge) add(provider string, s tokenstore.Status, d float64) {
	if s == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.counts == nil {
		return
	}
	byHealth := g.counts[provider]
	if byHealth == nil {
		byHealth = map[tokenstore.Status]float64{}
		g.counts[provider] = byHealth
	}
	byHealth[s] = max(0, byHealth[s]+d)
}

// setCounts replaces the counts with a count of the store: connections by
// provider and status (tokens.Unreadable for those no key opens). Every
// status keeps a series, at zero when none is left.
func (g *connectionGauge) setCounts(counts map[string]map[tokenstore.Status]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := map[string]map[tokenstore.Status]float64{}
	for provider, byHealth := range counts {
		m := map[tokenstore.Status]float64{tokenstore.StatusOK: 0, tokenstore.StatusNeedsReauth: 0, tokens.Unreadable: 0}
		for s, n := range byHealth {
			m[s] = float64(n)
		}
		next[provider] = m
	}
	g.counts = next
}

// denied counts a consent a user declined to the registration provider.
func (a *App) denied(provider string) { metrics.of(provider).Denied() }

// CountImport counts a connection imported to the registration provider
// (the admin API's import): result ok, dry_run, refused or error.
func (a *App) CountImport(provider, result string) { metrics.of(provider).Imported(result) }
