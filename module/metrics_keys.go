package module

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-fitbit/caddy-fitbit/internal/rekey"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// keyMetrics are the records each encryption key seals, and those none
// opens, as of the last whole count of the store. A scrape never walks the
// store: the counts come from check and rekey runs and from a pass of the
// background loop (at most every keyCountInterval, by one instance of those
// sharing the store, under a lease), kept in a store entry that every
// instance reads into its gauges.
var keyMetrics = struct {
	sealed, unreadable *prometheus.GaugeVec
}{
	sealed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "fitbit", Name: "sealed_records",
		Help: "Stored records by the encryption key (its id, as GET /fitbit/keys shows) that seals them and kind (connection, pending, entry), as of the last count. A key with none can be removed.",
	}, []string{"key_id", "kind"}),
	unreadable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "fitbit", Name: "unreadable_records",
		Help: "Stored records that no configured key opens, as of the last count (GET /fitbit/unreadable lists them).",
	}, []string{}),
}

// registerKeyMetrics registers the gauges with ctx's registry.
func registerKeyMetrics(ctx caddy.Context) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return
	}
	var are prometheus.AlreadyRegisteredError
	for _, c := range []prometheus.Collector{keyMetrics.sealed, keyMetrics.unreadable} {
		if err := reg.Register(c); err != nil && !errors.As(err, &are) {
			caddy.Log().Named("fitbit").Warn("could not register metric")
		}
	}
}

// keyCounts is a whole count of the store, as kept in its entry.
type keyCounts struct {
	At         time.Time                `json:"at"`
	Keys       map[string]*rekey.Counts `json:"keys"`
	Unreadable int                      `json:"unreadable"`
	// Connections by provider and health, for caddy_fitbit_connections.
	Connections map[string]map[tokenstore.Status]int `json:"connections,omitempty"`
}

const (
	// keyCountKind is the entry kind of the last count ("last") and of the
	// lease of the pass that makes it ("lease").
	keyCountKind = "key_counts"
	// keyCountInterval is how often the background loop counts the store.
	keyCountInterval = time.Hour
)

// publishKeyCounts keeps sum, a whole walk, as the store's last count and
// shows it in this instance's gauges; the others pick it up on their next
// pass.
func (a *App) publishKeyCounts(ctx context.Context, sum *rekey.Summary) keyCounts {
	return a.state.publishKeyCounts(ctx, sum)
}

func (s *state) publishKeyCounts(ctx context.Context, sum *rekey.Summary) keyCounts {
	c := keyCounts{At: time.Now().UTC(), Keys: sum.Keys, Unreadable: sum.UnreadableCount, Connections: sum.Connections}
	if b, err := json.Marshal(c); err == nil {
		_ = s.store.PutEntry(ctx, keyCountKind, "last", b, time.Time{})
	}
	showKeyCounts(c)
	return c
}

// countKeys is the background loop's pass: one instance (the lease's
// holder) counts the store if the last count is older than
// keyCountInterval; every instance shows the last count.
func (s *state) countKeys(ctx context.Context, now time.Time) {
	var last keyCounts
	if b, err := s.store.GetEntry(ctx, keyCountKind, "last"); err == nil && json.Unmarshal(b, &last) == nil {
		showKeyCounts(last)
	}
	if now.Sub(last.At) < keyCountInterval {
		return
	}
	if won, err := s.store.AddEntry(ctx, keyCountKind, "lease", nil, now.Add(keyCountInterval)); err != nil || !won {
		return
	}
	w := &rekey.Walker{Store: s.store, Keys: s.keys}
	if sum, err := w.Check(ctx, rekey.Options{PageSize: tokenstore.MaxListLimit, MaxUnreadable: 1}); err == nil {
		s.publishKeyCounts(ctx, sum)
	}
}

// showKeyCounts sets the gauges to c.
func showKeyCounts(c keyCounts) {
	keyMetrics.sealed.Reset()
	for id, n := range c.Keys {
		keyMetrics.sealed.WithLabelValues(id, string(tokenstore.ClassConnection)).Set(float64(n.Connections))
		keyMetrics.sealed.WithLabelValues(id, string(tokenstore.ClassPending)).Set(float64(n.Pending))
		keyMetrics.sealed.WithLabelValues(id, string(tokenstore.ClassEntry)).Set(float64(n.Entries))
	}
	keyMetrics.unreadable.WithLabelValues().Set(float64(c.Unreadable))
	if c.Connections != nil && metrics != nil {
		metrics.lifecycle.connections.setCounts(c.Connections)
	}
}
