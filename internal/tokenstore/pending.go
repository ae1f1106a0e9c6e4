package tokenstore

import (
	"errors"
	"fmt"
	"time"
)

// ErrExpired is returned by TakePending for a pending authorization past its
// Expires time (the entry is deleted all the same).
var ErrExpired = errors.New("tokenstore: pending authorization expired")

// Pending is an authorization in flight between /authorize and /callback.
//
// Like Record it holds secrets (state, verifier, identity): fmt verbs print a
// redacted summary.
type Pending struct {
	State    string `json:"-"`        // never stored: the storage key is derived from SHA-256(state)
	Provider string `json:"provider"` // provider registration name
	Identity string `json:"identity"` // raw identity (encrypted at rest) that started /authorize
	Verifier string `json:"verifier"` // PKCE code verifier
	ReturnTo string `json:"return_to,omitempty"`
	// Scopes the consent of this sign-in asks for, in the provider's
	// names; none: the registration's (the connect flow's own /authorize).
	Scopes []string `json:"scopes,omitempty"`
	// Records written by earlier versions may carry "next", where the
	// legacy OAuth 1.0a front continued after the callback. Decoding
	// ignores it: that front now keeps its own continuation (connect.Flow's
	// Resume), so a pending holds nothing one front alone needs.
	BrowserHash string    `json:"browser_hash"` // SHA-256 of the browser-binding cookie value
	RedirectURI string    `json:"redirect_uri"`
	Expires     time.Time `json:"expires"`
}

// Validate checks what every store requires of a pending authorization
// before it stores one.
func (p *Pending) Validate() error {
	if p == nil {
		return errors.New("tokenstore: pending is nil")
	}
	if p.State == "" {
		return errors.New("tokenstore: pending has an empty state")
	}
	if err := ValidateProvider(p.Provider); err != nil {
		return err
	}
	if p.Identity == "" {
		return errors.New("tokenstore: pending has an empty identity")
	}
	if p.Expires.IsZero() {
		return errors.New("tokenstore: pending has no expiry")
	}
	return nil
}

// String returns a summary without state, identity or verifier.
func (p Pending) String() string {
	return fmt.Sprintf("tokenstore.Pending{provider=%s identity_hash=%s return_to=%q redirect_uri=%q expires=%s state=%s verifier=%s browser_hash=%s}",
		p.Provider, IdentityHash(p.Identity), p.ReturnTo, p.RedirectURI, fmtTime(p.Expires),
		redactedMark(p.State), redactedMark(p.Verifier), redactedMark(p.BrowserHash))
}

// GoString is used by %#v; it is the same redacted summary.
func (p Pending) GoString() string { return p.String() }

// Format makes every fmt verb print the redacted summary.
func (p Pending) Format(f fmt.State, verb rune) { formatRedacted(f, verb, p.String()) }
