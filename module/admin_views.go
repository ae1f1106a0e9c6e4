package module

import (
	"context"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The JSON shapes of the admin API's connections. None holds a token or a
// raw identity.

// connectionName names a connection in the admin API's answers.
type connectionName struct {
	Provider     string `json:"provider"`
	IdentityHash string `json:"identity_hash"`
}

// connectionView is a connection as the admin API shows it: never a token.
type connectionView struct {
	connectionName
	UserID string   `json:"user_id,omitempty"`
	Scopes []string `json:"scopes"`
	// Health: "ok"; "needs_reauth" (the provider refused the refresh
	// token: the user must connect again); "refresh_unfinished" (a refresh
	// died mid-way: the recovery sweep completes it).
	Health      string    `json:"health"`
	ConnectedAt time.Time `json:"connected_at,omitzero"`
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
	// LastUsedAt is when the connection last served a request, to within
	// an hour (tokens.LastUsedGranularity); absent if not since recorded.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// AccessTokenExpiry is when the current access token expires (the
	// gateway refreshes before then).
	AccessTokenExpiry time.Time `json:"access_token_expiry,omitzero"`
	// KeyID names the encryption key that seals the record (as
	// caddy fitbit check and GET /fitbit/keys name keys).
	KeyID string `json:"key_id,omitempty"`
}

func viewOf(rec *tokenstore.Record) connectionView {
	v := connectionView{connectionName: connectionName{rec.Provider, rec.IdentityHash}, UserID: rec.UserID, Scopes: rec.Scopes,
		Health: string(rec.Status), ConnectedAt: rec.ConnectedAt.UTC(), RefreshedAt: rec.RefreshedAt.UTC(), AccessTokenExpiry: rec.Expiry.UTC(), KeyID: rec.SealedBy}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if rec.Status == tokenstore.StatusOK && rec.Refreshing != nil {
		v.Health = "refresh_unfinished"
	}
	return v
}

// withLastUse is v with its connection's last use, as m recorded it (a
// store read; a failure leaves it out).
func withLastUse(ctx context.Context, m *tokens.Manager, v connectionView) connectionView {
	if at, err := m.LastUsed(ctx, v.IdentityHash); err == nil {
		v.LastUsedAt = at
	}
	return v
}

// disconnectView is what a disconnect did, with the provider's revoke
// result.
type disconnectView struct {
	connectionName
	// Existed: a connection was stored, and is deleted now.
	Existed bool `json:"existed"`
	// Revoked: the provider confirmed the revocation.
	Revoked bool `json:"revoked"`
	// Reason and Message say why not: provider_gone, rejected, unavailable
	// (then RetryQueued: retried in the background) or record_unreadable.
	Reason      string `json:"reason,omitempty"`
	Message     string `json:"message,omitempty"`
	RetryQueued bool   `json:"retry_queued,omitempty"`
}
