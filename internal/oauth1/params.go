package oauth1

import (
	"fmt"
	"strconv"
)

// Params are the oauth_* protocol parameters of a request (RFC 5849 §3.1),
// parsed from the protocol map returned by Collect or ParseAuthorization.
// All string values are decoded.
type Params struct {
	ConsumerKey     string // oauth_consumer_key
	Token           string // oauth_token; empty for requests without a token
	SignatureMethod Method // oauth_signature_method
	Signature       string // oauth_signature
	Timestamp       int64  // oauth_timestamp, seconds since the epoch; 0 if absent (PLAINTEXT)
	Nonce           string // oauth_nonce; empty if absent (PLAINTEXT)
	Version         string // oauth_version; empty or "1.0"
	Callback        string // oauth_callback (temporary-credential requests)
	Verifier        string // oauth_verifier (token requests)
}

// ParseParams validates the protocol parameters and returns them as Params.
// oauth_consumer_key, oauth_signature_method and oauth_signature are required;
// oauth_timestamp (a non-negative integer) and oauth_nonce are required except
// with PLAINTEXT (§3.1); oauth_version, if present, must be "1.0". The
// signature method is not checked against the supported ones (Sign does that).
func ParseParams(protocol map[string]string) (Params, error) {
	p := Params{
		ConsumerKey:     protocol["oauth_consumer_key"],
		Token:           protocol["oauth_token"],
		SignatureMethod: Method(protocol["oauth_signature_method"]),
		Signature:       protocol["oauth_signature"],
		Nonce:           protocol["oauth_nonce"],
		Version:         protocol["oauth_version"],
		Callback:        protocol["oauth_callback"],
		Verifier:        protocol["oauth_verifier"],
	}
	required := []string{"oauth_consumer_key", "oauth_signature_method", "oauth_signature"}
	if p.SignatureMethod != Plaintext {
		required = append(required, "oauth_timestamp", "oauth_nonce")
	}
	for _, name := range required {
		if protocol[name] == "" {
			return Params{}, &MissingParamError{Name: name}
		}
	}
	if ts, ok := protocol["oauth_timestamp"]; ok {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 || ts[0] == '+' {
			return Params{}, fmt.Errorf("%w: oauth_timestamp %q is not a non-negative integer", ErrMalformed, ts)
		}
		p.Timestamp = n
	}
	if _, ok := protocol["oauth_version"]; ok && p.Version != "1.0" {
		return Params{}, fmt.Errorf("%w: oauth_version %q, want \"1.0\"", ErrMalformed, p.Version)
	}
	return p, nil
}
