package legacy

import (
	"context"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// kindAccessIndex indexes the access tokens of each identity (by identity
// hash), so that an operator can list and revoke them: the access token
// entries are named by the token, which the store keeps only as a hash.
const kindAccessIndex = "oauth1_access_of"

func accessIndex(entries tokenstore.Entries) tokenstore.Index {
	return tokenstore.Index{Entries: entries, Kind: kindAccessIndex}
}

// AccessToken is an OAuth 1.0a access token as an operator sees it: never
// the token or its secret. ID names it for RevokeAccessToken.
type AccessToken struct {
	ID       string    `json:"id"` // tokenstore.TokenHash of the token
	Consumer string    `json:"consumer"`
	UserID   string    `json:"user_id,omitempty"`
	Created  time.Time `json:"created"`
}

// AccessTokens lists the live access tokens of the identity whose hash is
// identityHash, oldest first. Tokens issued before the index existed are
// not listed.
func AccessTokens(ctx context.Context, entries tokenstore.Entries, identityHash string) ([]AccessToken, error) {
	tokens, err := liveAccess(ctx, entries, identityHash)
	if err != nil {
		return nil, err
	}
	out := make([]AccessToken, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, AccessToken{ID: tokenstore.TokenHash(t.token), Consumer: t.Consumer, UserID: t.UserID, Created: t.Created})
	}
	return out, nil
}

// RevokeAccessToken deletes the access token id (AccessToken.ID) of the
// identity whose hash is identityHash, and returns it (nil when there was
// none). A front that read it in the last minute goes on accepting it for
// the rest of that minute (its cache of access tokens).
func RevokeAccessToken(ctx context.Context, entries tokenstore.Entries, identityHash, id string) (*AccessToken, error) {
	tokens, err := liveAccess(ctx, entries, identityHash)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if tokenstore.TokenHash(t.token) == id {
			return &AccessToken{ID: id, Consumer: t.Consumer, UserID: t.UserID, Created: t.Created}, entries.DeleteEntry(ctx, kindAccess, t.token)
		}
	}
	return nil, nil
}

type indexedAccess struct {
	token string
	accessToken
}

// liveAccess reads identityHash's indexed access tokens that still exist.
func liveAccess(ctx context.Context, entries tokenstore.Entries, identityHash string) ([]indexedAccess, error) {
	tokens, values, err := tokenstore.Live(ctx, accessIndex(entries), identityHash, kindAccess,
		func(t *accessToken) bool { return tokenstore.IdentityHash(t.Identity) == identityHash })
	out := make([]indexedAccess, len(tokens))
	for i := range tokens {
		out[i] = indexedAccess{tokens[i], values[i]}
	}
	return out, err
}
