package provider

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestJWTExpiry(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"sub":"22B7NF","exp":1795625558,"iat":1795596758}`)) + ".sig"
	if got := jwtExpiry(tok); !got.Equal(time.Unix(1795625558, 0)) {
		t.Fatalf("jwtExpiry = %v", got)
	}
	for _, bad := range []string{"", "ya29.a0opaque", "a.b", "a.!!!.c", "a." + enc([]byte(`{"exp":"soon"}`)) + ".c", "a." + enc([]byte(`{"exp":-5}`)) + ".c", "a." + enc([]byte(`[]`)) + ".c"} {
		if got := jwtExpiry(bad); !got.IsZero() {
			t.Errorf("jwtExpiry(%q) = %v, want zero", bad, got)
		}
	}
}

func FuzzJWTExpiry(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTU2MjU1NTh9.c2ln")
	f.Add("ya29.opaque")
	f.Fuzz(func(t *testing.T, s string) { _ = jwtExpiry(s) })
}
