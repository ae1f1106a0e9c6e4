package tokenstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

const identityDomain = "caddy-fitbit/identity/v1\x00"

// IdentityHash is the hex SHA-256 of a domain string and the identity. Storage
// keys and records hold this hash, never the raw identity.
func IdentityHash(identity string) string {
	h := sha256.New()
	h.Write([]byte(identityDomain))
	h.Write([]byte(identity))
	return hex.EncodeToString(h.Sum(nil))
}

// ValidateProvider checks a provider registration name: 1–32 characters of
// [a-z0-9_-]. Names become storage path components, so nothing else is allowed.
func ValidateProvider(name string) error {
	if len(name) == 0 || len(name) > 32 {
		return fmt.Errorf("tokenstore: provider name must be 1-32 characters of [a-z0-9_-], got %d characters", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("tokenstore: provider name %q must contain only [a-z0-9_-]", name)
		}
	}
	return nil
}

// IsIdentityHash reports whether s is what IdentityHash returns
// (64 lowercase hex digits).
func IsIdentityHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
