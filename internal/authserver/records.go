package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Entry kinds in the token store. The store keeps an entry's id only as
// its SHA-256, so codes and tokens, which are the ids, are stored as hashes.
const (
	kindCode     = "oauth2_code"      // a code waiting for its exchange
	kindCodeUsed = "oauth2_code_used" // an exchanged code → its grant, to revoke on reuse
	kindGrant    = "oauth2_grant"     // what a user granted an app; deleted = revoked
	kindAccess   = "oauth2_access"    // an access token
	kindRefresh  = "oauth2_refresh"   // a refresh token, current or rotated
	kindUsed     = "oauth2_used"      // a generation's tokens were used (ends the grace window)
	kindKey      = "oauth2_key"       // the key rotated tokens are derived with
)

// code is what an authorization code stands for. RedirectGiven: the
// authorize request named the redirect URI, so the exchange must name it
// too (RFC 6749 §4.1.3).
type code struct {
	Client        string    `json:"client"`
	RedirectURI   string    `json:"redirect_uri"`
	RedirectGiven bool      `json:"redirect_given,omitempty"`
	Challenge     string    `json:"challenge,omitempty"`
	Method        string    `json:"method,omitempty"`
	Scopes        []string  `json:"scopes"`
	Identity      string    `json:"identity"`
	UserID        string    `json:"user_id"`
	Issued        time.Time `json:"issued"`
}

// grant is what a user granted an app, once, and the tokens that follow
// from it name it. It never changes, so deleting it (revocation) cannot be
// undone by a concurrent rotation.
type grant struct {
	GrantTerms
	Identity string `json:"identity"`
}

// GrantTerms are what a grant gave, to which app, without the identity.
type GrantTerms struct {
	Client  string    `json:"client"`
	Scopes  []string  `json:"scopes"`
	UserID  string    `json:"user_id"`
	Created time.Time `json:"created"`
}

// access is an access token's record.
type access struct {
	Grant      string    `json:"grant"`
	Generation int       `json:"gen"`
	Issued     time.Time `json:"iat"`
	Expires    time.Time `json:"exp"`
}

// refresh is a refresh token's record. Rotated is zero while it is the
// grant's current one.
type refresh struct {
	Grant      string    `json:"grant"`
	Generation int       `json:"gen"`
	Issued     time.Time `json:"iat"`
	Rotated    time.Time `json:"rotated,omitzero"`
}

func (s *Server) put(ctx context.Context, kind, id string, v any, expires time.Time) error {
	b, _ := json.Marshal(v)
	return s.Entries.PutEntry(ctx, kind, id, b, expires)
}

// get reads kind/id into v; tokenstore.ErrNotFound if there is none.
func (s *Server) get(ctx context.Context, kind, id string, v any) error {
	if id == "" || len(id) > maxParamLen {
		return tokenstore.ErrNotFound
	}
	b, err := s.Entries.GetEntry(ctx, kind, id)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("authserver: %s entry is not valid JSON", kind)
	}
	return nil
}

// loadGrant reads a grant; tokenstore.ErrNotFound once it is revoked.
func (s *Server) loadGrant(ctx context.Context, id string) (*grant, error) {
	var g grant
	if err := s.get(ctx, kindGrant, id, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// revokeGrant ends a grant: every token of it stops working at once,
// because each is checked against the grant (Fitbit: revoking either token
// revokes all of the user's tokens for the app).
func (s *Server) revokeGrant(ctx context.Context, id string) error {
	s.cache.forget(id, s.now())
	return s.Entries.DeleteEntry(ctx, kindGrant, id)
}

func usedID(grantID string, gen int) string { return grantID + ":" + strconv.Itoa(gen) }

// markUsed records that generation gen of a grant was used, which ends the
// grace window of the refresh token it replaced. Only needed while that
// window may be open.
func (s *Server) markUsed(ctx context.Context, grantID string, gen int, issued time.Time) error {
	if gen == 0 || s.now().Sub(issued) > s.GraceWindow {
		return nil
	}
	_, err := s.Entries.AddEntry(ctx, kindUsed, usedID(grantID, gen), nil, issued.Add(s.GraceWindow+time.Minute))
	return err
}

func (s *Server) wasUsed(ctx context.Context, grantID string, gen int) (bool, error) {
	_, err := s.Entries.GetEntry(ctx, kindUsed, usedID(grantID, gen))
	if errors.Is(err, tokenstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// deriveKey returns the key the successors of a refresh token are derived
// with, made once and kept sealed in the store, shared by every instance.
// Deriving them (rather than drawing them at random) is how the grace
// window answers an identical refresh with the same tokens while storing
// no token but as a hash: the caller brings the old refresh token, and the
// key turns it into the same successors again.
func (s *Server) deriveKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	if _, err := s.Entries.AddEntry(ctx, kindKey, "derive", k, time.Time{}); err != nil {
		return nil, err
	}
	k, err := s.Entries.GetEntry(ctx, kindKey, "derive")
	if err != nil {
		return nil, err
	}
	s.key = k
	return k, nil
}

// successors are the access and refresh tokens that replace refresh token old.
func successors(key []byte, old string) (accessToken, refreshToken string) {
	mac := func(label string) string {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(label + "\x00" + old))
		return hex.EncodeToString(h.Sum(nil))
	}
	return mac("access"), mac("refresh")
}

// Purge deletes the expired entries of the kinds that expire (stores whose
// entries expire on their own have none to delete). Grants and current
// refresh tokens do not expire, as they did not at Fitbit.
func Purge(ctx context.Context, entries interface {
	PurgeExpiredEntries(ctx context.Context, kind string, now time.Time) (int, error)
}, now time.Time) {
	for _, kind := range []string{kindCode, kindCodeUsed, kindAccess, kindRefresh, kindUsed, kindWaiting, kindResume} {
		_, _ = entries.PurgeExpiredEntries(ctx, kind, now)
	}
}
