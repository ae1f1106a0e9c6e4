package authserver

import (
	"context"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// kindGrantIndex indexes the grants of each identity (by identity hash), so
// that an operator can list and revoke them.
const kindGrantIndex = "oauth2_grants_of"

func grantIndex(entries Entries) tokenstore.Index {
	return tokenstore.Index{Entries: entries, Kind: kindGrantIndex}
}

// Grant is a grant as an operator sees it: what an app was granted, never
// a token or the identity. ID names it for RevokeGrant.
type Grant struct {
	ID string `json:"id"`
	GrantTerms
}

// Grants lists the live grants of the identity whose hash is
// identityHash, oldest first. Grants made before the index existed are not
// listed.
func Grants(ctx context.Context, entries Entries, identityHash string) ([]Grant, error) {
	ids, grants, err := tokenstore.Live(ctx, grantIndex(entries), identityHash, kindGrant,
		func(g *grant) bool { return tokenstore.IdentityHash(g.Identity) == identityHash })
	out := make([]Grant, len(ids))
	for i := range ids {
		out[i] = Grant{ID: ids[i], GrantTerms: grants[i].GrantTerms}
	}
	return out, err
}

// RevokeGrant revokes the grant id of the identity whose hash is
// identityHash, and returns it (nil when it was not live): every token of it
// stops working, within the 30 seconds a front may keep an access token it
// checked (bearer.go).
func RevokeGrant(ctx context.Context, entries Entries, identityHash, id string) (*Grant, error) {
	gs, err := Grants(ctx, entries, identityHash)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.ID == id {
			return &g, entries.DeleteEntry(ctx, kindGrant, id)
		}
	}
	return nil, nil
}
