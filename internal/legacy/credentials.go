package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// requestToken is a temporary credential between request_token and
// access_token. Its id (the oauth_token) is the entry id.
//
// Like every value holding secrets, fmt verbs print a redacted summary.
type requestToken struct {
	Consumer string `json:"consumer"`
	Secret   string `json:"secret"`
	Callback string `json:"callback"` // absolute URL, or "oob"
	// Identity is the synthetic gateway identity the user's provider
	// account is connected under; it becomes the access token's.
	Identity string `json:"identity"`
	// Verifier is made with the token and revealed only once the identity
	// is connected, so concurrent authorize visits all see the same one.
	Verifier string `json:"verifier"`
}

func (t requestToken) String() string {
	return fmt.Sprintf("legacy.requestToken{consumer=%s identity_hash=%s callback=%q secret=[REDACTED] verifier=[REDACTED]}",
		t.Consumer, tokenstore.IdentityHash(t.Identity), t.Callback)
}

// Format makes every fmt verb print the redacted summary.
func (t requestToken) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// accessToken is a token credential: it stands for Identity. Its id (the
// oauth_token) is the entry id.
type accessToken struct {
	Consumer string    `json:"consumer"`
	Secret   string    `json:"secret"`
	Identity string    `json:"identity"`
	UserID   string    `json:"user_id"`
	Created  time.Time `json:"created"`
}

func (t accessToken) String() string {
	return fmt.Sprintf("legacy.accessToken{consumer=%s identity_hash=%s user_id=%s created=%s secret=[REDACTED]}",
		t.Consumer, tokenstore.IdentityHash(t.Identity), t.UserID, t.Created.UTC().Format(time.RFC3339))
}

// Format makes every fmt verb print the redacted summary.
func (t accessToken) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// loadRequest reads a request token; tokenstore.ErrNotFound if it is
// unknown, used or expired.
func (s *Server) loadRequest(ctx context.Context, token string) (*requestToken, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, tokenstore.ErrNotFound
	}
	b, err := s.Entries.GetEntry(ctx, kindRequest, token)
	if err != nil {
		return nil, err
	}
	var t requestToken
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("legacy: request token entry is not valid JSON")
	}
	return &t, nil
}

// lookupAccess returns an access token, from memory when it was read in
// the last minute; tokenstore.ErrNotFound if it is unknown. Misses are not
// cached: forged tokens cost a store read each, like a forged state does.
func (s *Server) lookupAccess(ctx context.Context, token string) (*accessToken, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, tokenstore.ErrNotFound
	}
	now := s.now()
	if c, ok := s.access.Get(token); ok && now.Sub(c.read) < accessCacheTTL {
		return c.token, nil
	}
	b, err := s.Entries.GetEntry(ctx, kindAccess, token)
	if err != nil {
		return nil, err
	}
	var t accessToken
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("legacy: access token entry is not valid JSON")
	}
	s.access.Add(token, cachedAccess{&t, now})
	return &t, nil
}

// IssueAccessToken stores token credentials (token and secret) of consumer
// that stand for identity, as the access_token step does once the user has
// consented; provisioning tools (the benchmark) use it to give connections
// made elsewhere legacy credentials. Access tokens do not expire.
func IssueAccessToken(ctx context.Context, entries tokenstore.Entries, token, secret, consumer, identity, userID string, now time.Time) error {
	if token == "" || len(token) > maxTokenLen || secret == "" || consumer == "" || identity == "" {
		return fmt.Errorf("legacy: IssueAccessToken needs a token (up to %d bytes), a secret, a consumer and an identity", maxTokenLen)
	}
	b, _ := json.Marshal(accessToken{Consumer: consumer, Secret: secret, Identity: identity, UserID: userID, Created: now.UTC()})
	if err := entries.PutEntry(ctx, kindAccess, token, b, time.Time{}); err != nil {
		return err
	}
	// After the token is stored: an index slot without its token is
	// skipped, a token without its slot could not be listed for revocation.
	// A full index leaves the token working, only unlisted in the admin API.
	if err := accessIndex(entries).Add(ctx, tokenstore.IdentityHash(identity), []byte(token)); err != nil && !errors.Is(err, tokenstore.ErrIndexFull) {
		return err
	}
	return nil
}
