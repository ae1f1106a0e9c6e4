package ratelimit

import (
	"context"
	"net"
	"net/http"

	"go.uber.org/zap"
)

// Gate admits one kind of request (Name: "browser", "oauth1_token", …) per
// client IP and per identity. A nil Gate admits everything.
type Gate struct {
	Limiter     Limiter
	Name        string
	PerIP       Limit
	PerIdentity Limit
	// Logger is told when the limiter fails; the gate then admits (a
	// limiter outage must not lock users out — it is the token store's
	// Redis, whose outage answers 503 anyway).
	Logger *zap.Logger
}

// Admit spends one request from ip's budget and then identity's (an empty
// one is not limited) and returns the first refusal, if any.
func (g *Gate) Admit(ctx context.Context, ip, identity string) Decision {
	if g == nil || g.Limiter == nil {
		return Decision{Allowed: true}
	}
	if d := g.spend(ctx, "ip", ip, g.PerIP); !d.Allowed {
		return d
	}
	return g.spend(ctx, "identity", identity, g.PerIdentity)
}

func (g *Gate) spend(ctx context.Context, what, key string, limit Limit) Decision {
	if key == "" || !limit.Enabled() {
		return Decision{Allowed: true}
	}
	d, err := g.Limiter.Allow(ctx, g.Name+"\x00"+what+"\x00"+key, limit)
	if err != nil {
		if g.Logger != nil {
			g.Logger.Warn("rate limiter unavailable; admitting the request", zap.String("gate", g.Name), zap.Error(err))
		}
		return Decision{Allowed: true}
	}
	return d
}

// PeerIP is the host of r.RemoteAddr: the client's IP when no proxy sits
// in front (behind one, use Caddy's client_ip, which honours
// trusted_proxies).
func PeerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
