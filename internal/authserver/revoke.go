package authserver

import (
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// revoke serves POST /oauth2/revoke (RFC 7009): the token, access or
// refresh, and with it the whole grant, as at Fitbit ("revoking either
// token revokes all of the user's tokens for the app",
// https://dev.fitbit.com/build/reference/web-api/authorization/revoke-token/).
// A server app authenticates with HTTP Basic; a client or personal app, as
// Fitbit allowed, with client_id or with a Bearer access token of its own.
// An unknown token gets 200 (RFC 7009 §2.2: the client cannot do anything
// about it); a token of another app is refused and left alone.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) (client string, _ *Error) {
	p, app, e := s.request(w, r, true)
	client = app.ID
	if e != nil {
		return client, e
	}
	token := p.Get("token")
	if token == "" {
		return client, missing("token")
	}
	ctx := r.Context()
	grantID := ""
	var a access
	var rt refresh
	if err := s.get(ctx, kindAccess, token, &a); err == nil {
		grantID = a.Grant
	} else if !errors.Is(err, tokenstore.ErrNotFound) {
		s.Logger.Error("could not read an OAuth 2.0 access token", zap.Error(err))
		return client, errStore
	} else if err := s.get(ctx, kindRefresh, token, &rt); err == nil {
		grantID = rt.Grant
	} else if !errors.Is(err, tokenstore.ErrNotFound) {
		s.Logger.Error("could not read an OAuth 2.0 refresh token", zap.Error(err))
		return client, errStore
	}
	if grantID != "" {
		g, err := s.loadGrant(ctx, grantID)
		switch {
		case errors.Is(err, tokenstore.ErrNotFound): // revoked already
		case err != nil:
			s.Logger.Error("could not read an OAuth 2.0 grant", zap.Error(err))
			return client, errStore
		case g.Client != client:
			// RFC 7009 §2.1: the token must have been issued to the caller.
			return client, invalidRequest("The token was not issued to this app.")
		default:
			if err := s.revokeGrant(ctx, grantID); err != nil {
				s.Logger.Error("could not revoke an OAuth 2.0 grant", zap.Error(err))
				return client, errStore
			}
			s.Logger.Info("oauth2 grant revoked", zap.String("client", client),
				zap.String("identity_hash", tokenstore.IdentityHash(g.Identity)))
			s.Audit.Record(r, audit.Entry{Action: audit.Revoke, Provider: app.Provider, IdentityHash: tokenstore.IdentityHash(g.Identity),
				UserID: g.UserID, Client: client, Result: "grant_revoked"})
		}
	}
	writeJSON(w, struct{}{})
	return client, nil
}

// request reads the parameters of a request to the token or revoke
// endpoint and authenticates the app calling: by its client
// authentication, or (bearer) by a Bearer access token of its own.
func (s *Server) request(w http.ResponseWriter, r *http.Request, bearer bool) (url.Values, App, *Error) {
	p, e := s.params(w, r)
	if e != nil {
		return nil, App{}, e
	}
	if token := bearerToken(r); bearer && token != "" {
		pr, _, e := s.lookup(r.Context(), token)
		if e != nil {
			return nil, App{}, e
		}
		return p, s.Apps[pr.Client], nil
	}
	app, e := s.clientOf(r, p)
	return p, app, e
}
