package module

import (
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// caddy_fitbit_connections is absent until the store is counted, then
// moved by this instance's changes, never below zero.
func TestConnectionGauge(t *testing.T) {
	l := newLifecycle("caddy", "fitbit")
	o := &observer{lifecycle: l}
	p := o.of("fitbit")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(l.connections)

	p.changed(tokens.Change{Provider: "fitbit", To: tokenstore.StatusOK})
	if got := gauges(t, reg); len(got) != 0 {
		t.Fatalf("before a count: %v", got)
	}
	l.connections.setCounts(map[string]map[tokenstore.Status]int{"fitbit": {tokenstore.StatusOK: 2}})
	p.changed(tokens.Change{Provider: "fitbit", To: tokenstore.StatusOK})                                     // a new connection
	p.changed(tokens.Change{Provider: "fitbit", From: tokenstore.StatusOK, To: tokenstore.StatusNeedsReauth}) // a refused refresh token
	p.changed(tokens.Change{Provider: "fitbit", From: tokens.Unreadable})                                     // a disconnect of a record not counted
	want := map[string]float64{"fitbit/ok": 2, "fitbit/needs_reauth": 1, "fitbit/record_unreadable": 0}
	if got := gauges(t, reg); !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// gauges are the gathered caddy_fitbit_connections by provider/health.
func gauges(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["provider"]+"/"+labels["health"]] = m.GetGauge().GetValue()
		}
	}
	return got
}
