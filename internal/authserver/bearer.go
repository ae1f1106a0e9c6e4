package authserver

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Principal is who an API call's Bearer token stands for.
type Principal struct {
	Client   string
	Identity string // the gateway identity connected upstream
	UserID   string // the app's Fitbit user id
	Scopes   []string
}

// bearerToken returns the token of an "Authorization: Bearer" header
// (RFC 6750 §2.1), or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// HasBearer reports whether r carries a Bearer token at all.
func HasBearer(r *http.Request) bool { return bearerToken(r) != "" }

// Authenticate checks an API call's Bearer token and returns whom it
// stands for. An expired token is refused with expired_token (IsExpired),
// on which apps refresh, as they did against Fitbit; a revoked or unknown
// one with invalid_token. On success the header is removed, so the token
// never goes upstream.
func (s *Server) Authenticate(r *http.Request) (*Principal, *Error) {
	token, now := bearerToken(r), s.now()
	if c, ok := s.cache.get(token, now); ok {
		r.Header.Del("Authorization")
		s.observe(c.p.Client, "api", "ok")
		return c.p, nil
	}
	p, a, e := s.lookup(r.Context(), token)
	if e != nil {
		s.observe("", "api", e.result())
		return nil, e
	}
	s.cache.add(token, cachedAccess{p: p, a: a, read: now, grant: a.Grant})
	r.Header.Del("Authorization")
	s.observe(p.Client, "api", "ok")
	return p, nil
}

// lookup resolves an access token: its principal and record, or the refusal.
func (s *Server) lookup(ctx context.Context, token string) (*Principal, *access, *Error) {
	var a access
	switch err := s.get(ctx, kindAccess, token, &a); {
	case errors.Is(err, tokenstore.ErrNotFound):
		return nil, nil, errInvalidToken
	case err != nil:
		s.Logger.Error("could not read an OAuth 2.0 access token", zap.Error(err))
		return nil, nil, errStore
	}
	g, err := s.loadGrant(ctx, a.Grant)
	switch {
	case errors.Is(err, tokenstore.ErrNotFound):
		return nil, nil, errInvalidToken // revoked
	case err != nil:
		s.Logger.Error("could not read an OAuth 2.0 grant", zap.Error(err))
		return nil, nil, errStore
	case !s.now().Before(a.Expires):
		return nil, nil, errExpiredToken
	}
	if err := s.markUsed(ctx, a.Grant, a.Generation, a.Issued); err != nil {
		s.Logger.Error("could not record an OAuth 2.0 access token as used", zap.Error(err))
		return nil, nil, errStore
	}
	return &Principal{Client: g.Client, Identity: g.Identity, UserID: g.UserID, Scopes: g.Scopes}, &a, nil
}
