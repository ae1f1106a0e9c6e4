package tokenstore

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Status is the state of a connection.
type Status string

const (
	// StatusOK: the tokens are believed usable.
	StatusOK Status = "ok"
	// StatusNeedsReauth: the provider rejected the refresh token (revoked,
	// consent withdrawn); the user must connect again.
	StatusNeedsReauth Status = "needs_reauth"
)

// Record is one identity's connection to one provider.
//
// It holds credentials: String, GoString and Format (so %v, %+v, %#v, %s) print
// a redacted summary, and Redacted gives a map for structured logs. Do not
// log it through a JSON/reflection encoder: its JSON form is the stored form
// and contains the tokens.
type Record struct {
	Provider     string            `json:"provider"`      // provider registration name, e.g. "fitbit"
	IdentityHash string            `json:"identity_hash"` // IdentityHash(identity)
	UserID       string            `json:"user_id"`       // the provider's user id (Fitbit encoded id)
	Scopes       []string          `json:"scopes"`
	AccessToken  string            `json:"access_token"`
	RefreshToken string            `json:"refresh_token"`
	TokenType    string            `json:"token_type"`
	Expiry       time.Time         `json:"expiry"`
	Status       Status            `json:"status"`
	Version      uint64            `json:"version"` // the stored version; SaveConnection compares and increments it
	ConnectedAt  time.Time         `json:"connected_at"`
	RefreshedAt  time.Time         `json:"refreshed_at,omitempty"`
	Extra        map[string]string `json:"extra,omitempty"` // provider-specific ids (e.g. Google healthUserId)
	// Refreshing is set while a refresh of RefreshToken is in flight.
	Refreshing *RefreshMarker `json:"refreshing,omitempty"`
	// SealedBy is the hex id of the key (Keyring.KeyIDs) that sealed the
	// record as loaded: filled by the codec when it opens one, never
	// stored (a saved record is sealed by the keyring's first key).
	SealedBy string `json:"-"`
}

// Clone returns a deep copy (nil for nil).
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.Scopes = slices.Clone(r.Scopes)
	c.Extra = maps.Clone(r.Extra)
	if r.Refreshing != nil {
		m := *r.Refreshing
		c.Refreshing = &m
	}
	return &c
}

// Redacted returns the record's non-secret fields, for structured logging.
// Tokens appear only as whether they are present; Extra only by its keys.
func (r *Record) Redacted() map[string]any {
	if r == nil {
		return nil
	}
	m := map[string]any{
		"provider":          r.Provider,
		"identity_hash":     r.IdentityHash,
		"user_id":           r.UserID,
		"scopes":            slices.Clone(r.Scopes),
		"token_type":        r.TokenType,
		"expiry":            r.Expiry,
		"status":            string(r.Status),
		"version":           r.Version,
		"connected_at":      r.ConnectedAt,
		"has_access_token":  r.AccessToken != "",
		"has_refresh_token": r.RefreshToken != "",
	}
	if !r.RefreshedAt.IsZero() {
		m["refreshed_at"] = r.RefreshedAt
	}
	if len(r.Extra) > 0 {
		m["extra_keys"] = sortedKeys(r.Extra)
	}
	return m
}

// String returns a one-line summary without credentials.
func (r Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tokenstore.Record{provider=%s identity_hash=%s user_id=%s scopes=%v token_type=%s expiry=%s status=%s version=%d connected_at=%s",
		r.Provider, r.IdentityHash, r.UserID, r.Scopes, r.TokenType, fmtTime(r.Expiry), r.Status, r.Version, fmtTime(r.ConnectedAt))
	if !r.RefreshedAt.IsZero() {
		fmt.Fprintf(&b, " refreshed_at=%s", fmtTime(r.RefreshedAt))
	}
	fmt.Fprintf(&b, " access_token=%s refresh_token=%s", redactedMark(r.AccessToken), redactedMark(r.RefreshToken))
	if len(r.Extra) > 0 {
		fmt.Fprintf(&b, " extra_keys=%v", sortedKeys(r.Extra))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is used by %#v; it is the same redacted summary.
func (r Record) GoString() string { return r.String() }

// Format makes every fmt verb print the redacted summary.
func (r Record) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r.String()) }

func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s)
		return
	}
	_, _ = f.Write([]byte(s))
}

func redactedMark(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "[REDACTED]"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "<zero>"
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
