package oauth1

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
)

// Method is an oauth_signature_method value.
type Method string

// Supported signature methods (RSA-SHA1 is not supported).
const (
	HMACSHA1   Method = "HMAC-SHA1"
	HMACSHA256 Method = "HMAC-SHA256"
	Plaintext  Method = "PLAINTEXT"
)

// signingKey is Encode(consumerSecret) "&" Encode(tokenSecret) (§3.4.2, §3.4.4);
// the token secret is empty when the request carries no token.
func signingKey(consumerSecret, tokenSecret string) string {
	return Encode(consumerSecret) + "&" + Encode(tokenSecret)
}

// Sign returns the oauth_signature for the base string (see BaseString).
// HMAC methods return the standard base64 of the MAC keyed with the signing
// key; PLAINTEXT returns the signing key itself and ignores base. The result
// is the decoded parameter value (the Authorization header carries it
// percent-encoded).
func Sign(method Method, base, consumerSecret, tokenSecret string) (string, error) {
	var h func() hash.Hash
	switch method {
	case HMACSHA1:
		h = sha1.New
	case HMACSHA256:
		h = sha256.New
	case Plaintext:
		return signingKey(consumerSecret, tokenSecret), nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnsupportedMethod, string(method))
	}
	mac := hmac.New(h, []byte(signingKey(consumerSecret, tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Verify reports whether signature is the correct oauth_signature for base.
// The comparison is constant-time; an unsupported method never verifies.
func Verify(method Method, base, consumerSecret, tokenSecret, signature string) bool {
	want, err := Sign(method, base, consumerSecret, tokenSecret)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}
