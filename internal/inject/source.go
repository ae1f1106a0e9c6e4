package inject

import (
	"context"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
)

// TokenSource is what the transport needs of the token manager, as
// golang.org/x/oauth2's Transport needs only a TokenSource: the connection
// of an identity, and a refresh when the provider still calls its token
// stale. *tokens.Manager implements it.
type TokenSource interface {
	// Get returns a connection whose access token is fresh. Its errors are
	// tokens.ErrNotConnected, tokens.ErrNeedsReauth, *tokens.StoreError or
	// a *provider.TokenError.
	Get(ctx context.Context, identity string) (*tokens.Entry, error)
	// Refresh renews stale, unless a peer already has; it returns the
	// connection to use instead.
	Refresh(ctx context.Context, identity string, stale *tokens.Entry) (*tokens.Entry, error)
}

var _ TokenSource = (*tokens.Manager)(nil)
