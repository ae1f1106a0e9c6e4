package module

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Budget bounds the calls the gateway sends a provider, so that its users
// stay inside the provider's rate limits: each identity's calls per window
// of the provider (Fitbit: the clock hour; Google Health: the clock
// minute), and for Google Health the project's. Past it a call is answered
// 429 without calling the provider. Unset: the provider's own limits.
type Budget struct {
	// No budget: every call goes to the provider.
	Off bool `json:"off,omitempty"`
	// Calls per identity per window. Default: the provider's limit (Fitbit
	// 150 an hour, and the Fitbit-Rate-Limit-Limit Fitbit sends; Google
	// Health 300 a minute). Set, it is a cap that Fitbit's header may only
	// lower.
	PerUser int `json:"per_user,omitempty"`
	// Calls per window for all identities together (the project's quota
	// in Google's console, per minute). Default: none.
	Project int `json:"project,omitempty"`
	// With the storage store, each instance counts alone: give the number
	// of instances sharing the registration, and each keeps 1/instances
	// of each budget. Default: 1. Not for the redis store, whose budget is
	// the cluster's.
	Instances int `json:"instances,omitempty"`
}

// validate checks b, the budget of registration name.
func (b *Budget) validate(name string, redis bool) error {
	if b == nil {
		return nil
	}
	switch {
	case b.PerUser < 0 || b.Project < 0 || b.Instances < 0:
		return fmt.Errorf("provider %s: budget: per_user, project and instances must not be negative", name)
	case b.Instances > 1 && redis:
		return fmt.Errorf("provider %s: budget: instances is for the storage store; with the redis store every instance shares the budget already", name)
	}
	return nil
}

// validateBudgets checks the budget of every registration (redis: the
// store is Redis).
func (a *App) validateBudgets(redis bool) error {
	confs, _ := a.configuredProviders() // checked in Provision
	var errs []error
	for _, c := range confs {
		errs = append(errs, c.Budget.validate(c.name, redis))
	}
	return errors.Join(errs...)
}

// budgetNow is the budgets' clock; tests set it, so time is data.
var budgetNow = time.Now

// newWindows are the per-identity windows of registration name: in the
// store's Redis (shared by the cluster), else in this process's memory.
func newWindows(store tokenstore.Store, name string) ratelimit.Windows {
	if rs, ok := store.(*redisstore.Store); ok {
		return ratelimit.NewRedisWindows(rs.Client(), rs.Prefix()+":budget:"+name)
	}
	return ratelimit.NewMemoryWindows()
}

// budgetOf returns the configuration of registration name's budget.
func (a *App) budgetOf(name string) *Budget {
	if name == provider.Fitbit.Name && (a.ClientID != "" || len(a.Providers) == 0) {
		return a.ProviderConfig.Budget
	}
	if p := a.Providers[name]; p != nil {
		return p.Budget
	}
	return nil
}

// budget is the budget towards reg, nil when off.
func (a *App) budget(reg provider.Registration, logger *zap.Logger) *ratelimit.Budget {
	cfg := a.budgetOf(reg.Name)
	if cfg == nil {
		cfg = &Budget{}
	}
	p := reg.Preset
	if cfg.Off || p == nil || p.RateLimit == 0 {
		return nil
	}
	share := func(n int) int { return max(n/max(cfg.Instances, 1), 1) }
	b := &ratelimit.Budget{
		Windows:   a.state.windows[reg.Name],
		PerUser:   ratelimit.Window{Limit: share(p.RateLimit), Period: p.RateWindow},
		Cap:       cfg.PerUser,
		Instances: cfg.Instances,
		Headers:   p.RateHeaders,
		Now:       budgetNow,
		OnError: func(err error) {
			logger.Warn("provider budget unavailable; the call is let through", zap.String("provider", reg.Name), zap.Error(err))
		},
		OnLimited: rateMetrics.limited(reg.Name),
		Peers:     a.state.peers[reg.Name],
		OnBlocked: func(identity string, until time.Time) {
			hash := tokenstore.IdentityHash(identity)
			logger.Warn("provider answered 429: the identity's calls are refused until its reset", zap.String("provider", reg.Name),
				zap.String("identity_hash", hash), zap.Time("until", until))
			a.Emit(EventRateLimited, map[string]any{"provider": reg.Name, "identity_hash": hash, "until": until.UTC().Format(time.RFC3339)})
		},
	}
	if cfg.PerUser > 0 {
		b.PerUser.Limit = share(cfg.PerUser)
	}
	if cfg.Project > 0 {
		b.Project = ratelimit.Window{Limit: share(cfg.Project), Period: p.RateWindow}
	}
	return b
}

// unmarshalBudget reads
//
//	budget off
//	budget {
//	    per_user  <n>
//	    project   <n>
//	    instances <n>
//	}
func unmarshalBudget(d *caddyfile.Dispenser) (*Budget, error) {
	b := &Budget{}
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return nil, d.Errf("budget takes off, or a block")
		}
		b.Off = true
		return b, nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		target := map[string]*int{"per_user": &b.PerUser, "project": &b.Project, "instances": &b.Instances}[name]
		if target == nil {
			return nil, d.Errf("budget: unknown option %q (want per_user, project or instances)", name)
		}
		args := d.RemainingArgs()
		n, err := strconv.Atoi(firstArg(args))
		if len(args) != 1 || err != nil || n < 1 {
			return nil, d.Errf("budget: %s takes one whole number ≥ 1", name)
		}
		*target = n
	}
	return b, nil
}
