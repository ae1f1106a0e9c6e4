package googlesim

import (
	"crypto/sha256"
	"encoding/base64"
)

// S256Challenge returns the PKCE S256 code challenge of a verifier:
// base64url (no padding) of its SHA-256.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier reports whether v is an RFC 7636 code verifier (or plain
// challenge): 43–128 characters of [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return false
		}
	}
	return true
}

// validChallenge reports whether c is a well-formed challenge for method.
func validChallenge(c, method string) bool {
	if method == "plain" {
		return validVerifier(c)
	}
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// verifierMatches checks a code_verifier against a stored challenge.
func verifierMatches(verifier, challenge, method string) bool {
	if !validVerifier(verifier) {
		return false
	}
	if method == "plain" {
		return ctEqual(verifier, challenge)
	}
	return ctEqual(S256Challenge(verifier), challenge)
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
