package authserver

import (
	"context"
	"errors"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// refresh serves grant_type=refresh_token with rotation: every refresh
// token is single-use and replaced, with the access token, by successors
// derived from it (see deriveKey), as at Fitbit
// (https://dev.fitbit.com/build/reference/web-api/authorization/refresh-token/).
//
//   - The grant's current refresh token is rotated: its successors are
//     stored, then it is marked rotated (in that order, so a failure
//     between the two leaves it usable).
//   - A rotated one presented again within the grace window, while
//     neither successor has been used, gets the same tokens again: an app
//     that lost the answer to a network error retries and goes on.
//   - Any other reuse of a rotated one revokes the grant (RFC 9700
//     §4.14.2): either the app or a thief holds a token it should not, and
//     only the user signing in again is safe.
func (s *Server) refresh(ctx context.Context, app App, p url.Values) (*tokenAnswer, *Error) {
	old := p.Get("refresh_token")
	if old == "" {
		return nil, missing("refresh_token")
	}
	errInvalid := invalidGrant("Refresh token invalid.")
	var rt refresh
	switch err := s.get(ctx, kindRefresh, old, &rt); {
	case errors.Is(err, tokenstore.ErrNotFound):
		return nil, errInvalid
	case err != nil:
		s.Logger.Error("could not read an OAuth 2.0 refresh token", zap.Error(err))
		return nil, errStore
	}
	g, err := s.loadGrant(ctx, rt.Grant)
	switch {
	case errors.Is(err, tokenstore.ErrNotFound):
		return nil, errInvalid // revoked
	case err != nil:
		s.Logger.Error("could not read an OAuth 2.0 grant", zap.Error(err))
		return nil, errStore
	case g.Client != app.ID:
		// RFC 6749 §6: a refresh token is bound to its client.
		return nil, errInvalid
	}
	key, err := s.deriveKey(ctx)
	if err != nil {
		s.Logger.Error("could not read the OAuth 2.0 derivation key", zap.Error(err))
		return nil, errStore
	}
	nextAccess, nextRefresh := successors(key, old)
	now := s.now().UTC()
	if rt.Rotated.IsZero() {
		if err := s.markUsed(ctx, rt.Grant, rt.Generation, rt.Issued); err != nil {
			s.Logger.Error("could not record an OAuth 2.0 refresh token as used", zap.Error(err))
			return nil, errStore
		}
		ans, err := s.issue(ctx, rt.Grant, g, rt.Generation+1, nextAccess, nextRefresh, s.lifetime(app, p))
		if err == nil {
			rt.Rotated = now
			err = s.put(ctx, kindRefresh, old, rt, now.Add(rotatedRetention))
		}
		if err != nil {
			s.Logger.Error("could not store rotated OAuth 2.0 tokens", zap.Error(err))
			return nil, errStore
		}
		return ans, nil
	}
	if now.Sub(rt.Rotated) <= s.GraceWindow {
		used, err := s.wasUsed(ctx, rt.Grant, rt.Generation+1)
		if err != nil {
			s.Logger.Error("could not read whether OAuth 2.0 tokens were used", zap.Error(err))
			return nil, errStore
		}
		var a access
		if !used && s.get(ctx, kindAccess, nextAccess, &a) == nil && now.Before(a.Expires) {
			return answer(g, nextAccess, nextRefresh, a.Expires.Sub(now).Round(time.Second)), nil
		}
	}
	if err := s.revokeGrant(ctx, rt.Grant); err != nil {
		s.Logger.Error("could not revoke the grant of a reused OAuth 2.0 refresh token", zap.Error(err))
		return nil, errStore
	}
	s.Logger.Warn("oauth2 rotated refresh token used again; its grant is revoked", zap.String("client", app.ID),
		zap.String("identity_hash", tokenstore.IdentityHash(g.Identity)))
	return nil, errInvalid
}
