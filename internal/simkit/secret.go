package simkit

import (
	"crypto/sha256"
	"crypto/subtle"
)

// Equal compares secrets in constant time (length may leak).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// SecretKey is the map key a simulator stores an issued secret under, so
// that the secret itself is not kept in the clear.
func SecretKey(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }
