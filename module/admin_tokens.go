package module

import (
	"cmp"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The tokens the gateway issued to apps for an identity, through its
// OAuth 1.0a front (access tokens) and its OAuth 2.0 front (grants): listed
// without the tokens, and revoked one by one (routes in
// admin_connections.go).

// identityTokensView lists an identity's app tokens.
type identityTokensView struct {
	IdentityHash string               `json:"identity_hash"`
	OAuth1       []legacy.AccessToken `json:"oauth1"`
	OAuth2       []authserver.Grant   `json:"oauth2"`
}

func identityHashParam(r *http.Request) (string, error) {
	hash := r.PathValue("hash")
	if !tokenstore.IsIdentityHash(hash) {
		return "", caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("not an identity hash (64 lowercase hex digits): `caddy fitbit identity-hash <identity>` prints it")}
	}
	return hash, nil
}

func adminIdentityTokens(app *App, w http.ResponseWriter, r *http.Request) error {
	hash, err := identityHashParam(r)
	if err != nil {
		return err
	}
	out := identityTokensView{IdentityHash: hash}
	if out.OAuth1, err = legacy.AccessTokens(r.Context(), app.store(), hash); err != nil {
		return connectionError(err)
	}
	if out.OAuth2, err = authserver.Grants(r.Context(), app.store(), hash); err != nil {
		return connectionError(err)
	}
	if out.OAuth1 == nil {
		out.OAuth1 = []legacy.AccessToken{}
	}
	if out.OAuth2 == nil {
		out.OAuth2 = []authserver.Grant{}
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// revokedView is what a revocation of an app token did.
type revokedView struct {
	IdentityHash string `json:"identity_hash"`
	Front        string `json:"front"`
	ID           string `json:"id"`
	Revoked      bool   `json:"revoked"`
}

func adminRevokeIdentityToken(app *App, w http.ResponseWriter, r *http.Request) error {
	hash, err := identityHashParam(r)
	if err != nil {
		return err
	}
	front, id := r.PathValue("front"), r.PathValue("id")
	e := audit.Entry{Action: audit.Revoke, Provider: app.state.defaultName, IdentityHash: hash, Result: front + "_revoked_by_operator"}
	found := false
	switch front {
	case "oauth1":
		var t *legacy.AccessToken
		t, err = legacy.RevokeAccessToken(r.Context(), app.store(), hash, id)
		if found = t != nil; found {
			e.Client, e.UserID = t.Consumer, t.UserID
		}
	case "oauth2":
		var g *authserver.Grant
		g, err = authserver.RevokeGrant(r.Context(), app.store(), hash, id)
		if found = g != nil; found {
			e.Client, e.UserID = g.Client, g.UserID
			e.Provider = cmp.Or(app.oauth2[g.Client].Provider, e.Provider)
		}
	default:
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("front must be oauth1 or oauth2")}
	}
	if err != nil {
		return connectionError(err)
	}
	if !found {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("the identity has no such live token")}
	}
	app.Audit(r, e)
	return writeAdminJSON(w, http.StatusOK, revokedView{IdentityHash: hash, Front: front, ID: id, Revoked: true})
}
