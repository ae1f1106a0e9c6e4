package module

import "github.com/prometheus/client_golang/prometheus"

// oauth2Outcome is one series of the OAuth 2.0 front's counter, within a
// registration.
type oauth2Outcome struct{ endpoint, result string }

// OAuth2 counts a request to the OAuth 2.0 front.
func (p *providerMetrics) OAuth2(endpoint, result string) {
	key := oauth2Outcome{endpoint, result}
	if c, ok := p.oauth2Outcomes.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := p.o.oauth2.WithLabelValues(p.name, endpoint, result)
	p.oauth2Outcomes.Store(key, c)
	c.Inc()
}

// oauth2Observer is the front's hook (authserver.Server.Observe): it
// counts each request under the upstream registration of its app.
type oauth2Observer struct {
	// byClient are the registrations' metrics by client id; def, the
	// front's default's, counts requests of no known app (yet).
	byClient map[string]*providerMetrics
	def      *providerMetrics
}

// newOAuth2Observer is the observer of a handler whose apps connect to
// providerOf (by client id), def for requests of no known app.
func newOAuth2Observer(o *observer, providerOf map[string]string, def string) *oauth2Observer {
	obs := &oauth2Observer{byClient: make(map[string]*providerMetrics, len(providerOf)), def: o.of(def)}
	for client, name := range providerOf {
		obs.byClient[client] = o.of(name)
	}
	return obs
}

// Observe implements authserver.Server.Observe.
func (o *oauth2Observer) Observe(client, endpoint, result string) {
	p, ok := o.byClient[client]
	if !ok {
		p = o.def
	}
	p.OAuth2(endpoint, result)
}
