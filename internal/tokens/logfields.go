package tokens

import (
	"time"

	"go.uber.org/zap"
)

// timeField logs t in RFC 3339, readable whatever the log encoder's time
// format (Caddy's default writes zap times as unix seconds).
func timeField(key string, t time.Time) zap.Field {
	return zap.String(key, t.UTC().Format(time.RFC3339))
}
