package fitbitsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// jwtClaims are the claims of a simulated Fitbit access token.
type jwtClaims struct {
	Aud    string `json:"aud"`
	Sub    string `json:"sub"`
	Iss    string `json:"iss"`
	Typ    string `json:"typ"`
	Scopes string `json:"scopes"`
	Exp    int64  `json:"exp"`
	Iat    int64  `json:"iat"`
	Jti    string `json:"jti"`
}

// jwtHeader is the fixed, pre-encoded HS256 header.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// maxTokenLen bounds the tokens the simulator will look at; Fitbit's tokens
// are at most 1,024 bytes.
const maxTokenLen = 4096

func signJWT(key []byte, c jwtClaims) string {
	payload, _ := json.Marshal(c) // only strings and ints: cannot fail
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signing + "." + base64.RawURLEncoding.EncodeToString(hs256(key, signing))
}

// verifyJWT checks an HS256 token signed with key and returns its claims. It
// does not check expiry.
func verifyJWT(key []byte, tok string) (jwtClaims, bool) {
	var c jwtClaims
	if len(tok) > maxTokenLen {
		return c, false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, false
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return c, false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hdr, &h) != nil || h.Alg != "HS256" {
		return c, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, hs256(key, parts[0]+"."+parts[1])) {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Jti == "" || c.Typ != "access_token" {
		return jwtClaims{}, false
	}
	return c, true
}

func hs256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}
