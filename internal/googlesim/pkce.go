package googlesim

import "github.com/caddy-fitbit/caddy-fitbit/internal/simkit"

// S256Challenge returns the PKCE S256 code challenge of a verifier:
// base64url (no padding) of its SHA-256.
func S256Challenge(verifier string) string { return simkit.S256Challenge(verifier) }
