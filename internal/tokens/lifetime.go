package tokens

import (
	"time"

	"go.uber.org/zap"
)

// checkLifetime warns, once per Manager, when a token the provider has just
// issued (expiring at expiry) lives no longer than the refresh skew: every
// request would then refresh it, silently (a provider issuing 2-minute
// tokens, against the default skew of 5 minutes).
func (m *Manager) checkLifetime(expiry time.Time) {
	life := expiry.Sub(m.cfg.Now())
	if life <= 0 || life > m.cfg.Skew {
		return
	}
	m.skewWarned.Do(func() {
		m.log.Load().Warn("refresh_skew is not shorter than the provider's access token lifetime: every request refreshes the token; set refresh_skew well below the lifetime",
			zap.String("provider", m.name), zap.Duration("token_lifetime", life.Round(time.Second)), zap.Duration("refresh_skew", m.cfg.Skew))
	})
}
