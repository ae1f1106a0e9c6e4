package simkit

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

// ValidVerifier reports whether v is an RFC 7636 code verifier (or plain
// challenge): 43–128 characters of [A-Za-z0-9-._~].
func ValidVerifier(v string) bool {
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

// ValidChallenge reports whether c is a well-formed challenge for method:
// a verifier for "plain", otherwise 43 base64url characters (S256).
func ValidChallenge(c, method string) bool {
	if method == "plain" {
		return ValidVerifier(c)
	}
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// VerifierMatches checks a code_verifier against a stored challenge made
// with method ("plain", otherwise S256), in constant time.
func VerifierMatches(verifier, challenge, method string) bool {
	if !ValidVerifier(verifier) {
		return false
	}
	if method == "plain" {
		return Equal(verifier, challenge)
	}
	return Equal(S256Challenge(verifier), challenge)
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
