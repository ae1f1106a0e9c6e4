package module

import (
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
)

// maxUserAgent bounds the user agent an audit line quotes.
const maxUserAgent = 256

// Audit records e on the audit log, the logger fitbit.audit (route it to a
// file of its own with Caddy's log directive: README › Events and audit
// log). r, the request that caused it, gives the client IP (Caddy's
// client_ip, which honours trusted_proxies; else the peer, as on the admin
// endpoint) and the user agent; nil for none. An entry holds no token.
func (a *App) Audit(r *http.Request, e audit.Entry) {
	if a.audit == nil {
		return
	}
	fields := make([]zap.Field, 0, 9)
	fields = append(fields, zap.String("action", string(e.Action)), zap.String("provider", e.Provider),
		zap.String("identity_hash", e.IdentityHash))
	if e.UserID != "" {
		fields = append(fields, zap.String("user_id", e.UserID))
	}
	if e.Client != "" {
		fields = append(fields, zap.String("client", e.Client))
	}
	if e.Result != "" {
		fields = append(fields, zap.String("result", e.Result))
	}
	if e.Count != 0 {
		fields = append(fields, zap.Int("count", e.Count))
	}
	if r != nil {
		ua := r.UserAgent()
		if len(ua) > maxUserAgent {
			ua = ua[:maxUserAgent]
		}
		fields = append(fields, zap.String("client_ip", requestIP(r)), zap.String("user_agent", ua))
	}
	a.audit.Info(string(e.Action), fields...)
}

// recorder is Audit as the internal packages take it.
func (a *App) recorder() audit.Recorder { return a.Audit }

// requestIP is Caddy's client_ip, or the peer's address outside an HTTP
// server's handlers (the admin endpoint).
func requestIP(r *http.Request) string {
	if ip := clientIP(r); ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
