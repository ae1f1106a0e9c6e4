package simkit

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// RandomBytes returns n bytes from crypto/rand.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b
}

// RandomHex returns n random bytes, hex-encoded.
func RandomHex(n int) string { return hex.EncodeToString(RandomBytes(n)) }

// RandomB64 returns n random bytes, base64url without padding.
func RandomB64(n int) string { return base64.RawURLEncoding.EncodeToString(RandomBytes(n)) }
