package module

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The connections of the admin API: one by identity hash (the storage key,
// which `caddy fitbit identity-hash` prints) or by identity, disconnect and
// forced refresh. An identity travels only in a request body: Caddy's admin
// server logs every request's URI. Also the tokens apps hold for an
// identity (admin_tokens.go).
func init() { adminRoutes = append(adminRoutes, connectionRoutes...) }

var connectionRoutes = []adminRoute{
	{Method: "GET", Pattern: "/fitbit/connections/{provider}/{hash}", Handle: onConnection(viewing((*tokens.Manager).LookupHash))},
	{Method: "DELETE", Pattern: "/fitbit/connections/{provider}/{hash}", Handle: onConnection(disconnectHash)},
	{Method: "POST", Pattern: "/fitbit/connections/{provider}/{hash}/refresh", Handle: onConnection(viewing((*tokens.Manager).RefreshHash))},
	{Method: "POST", Pattern: "/fitbit/connections/lookup", Handle: adminLookup},
	{Method: "GET", Pattern: "/fitbit/identities/{hash}/tokens", Handle: adminIdentityTokens},
	{Method: "DELETE", Pattern: "/fitbit/identities/{hash}/tokens/{front}/{id}", Handle: adminRevokeIdentityToken},
}

// connectionKey reads {provider} and {hash} and returns the registration's
// manager.
func connectionKey(app *App, r *http.Request) (*tokens.Manager, string, error) {
	m, err := app.manager(r.PathValue("provider"))
	if err != nil {
		return nil, "", caddy.APIError{HTTPStatus: http.StatusNotFound, Err: err}
	}
	hash := r.PathValue("hash")
	if !tokenstore.IsIdentityHash(hash) {
		return nil, "", caddy.APIError{HTTPStatus: http.StatusBadRequest,
			Err: errors.New("not an identity hash (64 lowercase hex digits): `caddy fitbit identity-hash <identity>` prints it, or POST the identity to /fitbit/connections/lookup")}
	}
	return m, hash, nil
}

// onConnection makes the handler of op, an operation on the connection
// the path names, whose answer op returns.
func onConnection(op func(r *http.Request, app *App, m *tokens.Manager, hash string) (any, error)) func(*App, http.ResponseWriter, *http.Request) error {
	return func(app *App, w http.ResponseWriter, r *http.Request) error {
		m, hash, err := connectionKey(app, r)
		if err != nil {
			return err
		}
		v, err := op(r, app, m, hash)
		if err != nil {
			return connectionError(err)
		}
		return writeAdminJSON(w, http.StatusOK, v)
	}
}

// viewing makes op of a manager method that returns the connection.
func viewing(method func(*tokens.Manager, context.Context, string) (*tokenstore.Record, error)) func(*http.Request, *App, *tokens.Manager, string) (any, error) {
	return func(r *http.Request, _ *App, m *tokens.Manager, hash string) (any, error) {
		rec, err := method(m, r.Context(), hash)
		if err != nil {
			return nil, err
		}
		return withLastUse(r.Context(), m, viewOf(rec)), nil
	}
}

func disconnectHash(r *http.Request, app *App, m *tokens.Manager, hash string) (any, error) {
	d, err := m.DisconnectHash(r.Context(), hash)
	if err != nil {
		return nil, err
	}
	if d.Existed {
		app.Audit(r, audit.Entry{Action: audit.Disconnect, Provider: m.Provider().Reg.Name, IdentityHash: hash, UserID: d.UserID, Result: d.Result()})
	}
	return disconnectView{connectionName: connectionName{m.Provider().Reg.Name, hash}, Existed: d.Existed, Revoked: d.Revoked,
		Reason: string(d.Reason), Message: d.Message, RetryQueued: d.RetryQueued}, nil
}

// lookupRequest names a connection by identity, in the body.
type lookupRequest struct {
	// Identity, or IdentityHash: its hash.
	Identity     string `json:"identity,omitempty"`
	IdentityHash string `json:"identity_hash,omitempty"`
	// Provider: one registration; "" for every one.
	Provider string `json:"provider,omitempty"`
}

// lookupView is an identity's connections, one per registration it is
// connected to.
type lookupView struct {
	IdentityHash string           `json:"identity_hash"`
	Connections  []connectionView `json:"connections"`
}

func adminLookup(app *App, w http.ResponseWriter, r *http.Request) error {
	var req lookupRequest
	if err := decodeAdminJSON(w, r, maxAdminBody, &req); err != nil {
		return err
	}
	hash := req.IdentityHash
	switch {
	case (req.Identity == "") == (hash == ""):
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New(`the body needs an identity or an identity hash: {"identity": "…"} or {"identity_hash": "…"}`)}
	case hash == "":
		hash = tokenstore.IdentityHash(req.Identity)
	case !tokenstore.IsIdentityHash(hash):
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("identity_hash must be 64 lowercase hex digits")}
	}
	names := app.providerNames()
	if req.Provider != "" {
		if _, err := app.manager(req.Provider); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: err}
		}
		names = []string{req.Provider}
	}
	out := lookupView{IdentityHash: hash, Connections: []connectionView{}}
	for _, name := range names {
		m, _ := app.manager(name)
		rec, err := m.LookupHash(r.Context(), hash)
		switch {
		case errors.Is(err, tokens.ErrNotConnected):
			continue
		case errors.Is(err, tokenstore.ErrUnreadable):
			out.Connections = append(out.Connections, connectionView{connectionName: connectionName{name, hash}, Scopes: []string{}, Health: "unreadable"})
		case err != nil:
			return connectionError(err)
		default:
			out.Connections = append(out.Connections, withLastUse(r.Context(), m, viewOf(rec)))
		}
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// connectionError is the admin API's answer to a manager's error. None
// holds a token (provider errors are scrubbed) or an identity.
func connectionError(err error) error {
	var te *provider.TokenError
	var se *tokens.StoreError
	switch {
	case errors.Is(err, tokens.ErrNotConnected):
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such connection")}
	case errors.Is(err, tokenstore.ErrUnreadable):
		return caddy.APIError{HTTPStatus: http.StatusConflict,
			Err: errors.New("the stored connection cannot be read with any configured encryption key: disconnect deletes it, a new consent replaces it")}
	case errors.Is(err, tokens.ErrNeedsReauth):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case errors.Is(err, tokens.ErrExists):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case errors.As(err, &te):
		return caddy.APIError{HTTPStatus: http.StatusBadGateway, Err: err}
	case errors.As(err, &se):
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("fitbit: %w", err)}
}
