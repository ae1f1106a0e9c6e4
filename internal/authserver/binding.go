package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"
)

// A sign-in is finished only in the browser that began it, as the connect
// flow's state is bound to the browser (RFC 9700 §4.7.1): the authorize
// step gives the browser a random cookie and keeps its SHA-256 with the
// waiting sign-in, and the resume step requires it. A resume link that
// leaked (a log, a referrer) is worth nothing elsewhere. The cookie has
// the __Host- prefix over TLS (RFC 6265bis §4.1.3.2), and none on plain
// http://localhost, where browsers refuse Secure cookies.
const (
	cookieName       = "fitbit_oauth2"
	secureCookieName = "__Host-fitbit_oauth2"
)

func bindingCookieName(r *http.Request) string {
	if r.TLS != nil {
		return secureCookieName
	}
	return cookieName
}

// browserCookie is the binding value the browser sent, if it is one the
// gateway could have made (256 bits, base64url).
func browserCookie(r *http.Request) string {
	c, err := r.Cookie(bindingCookieName(r))
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return ""
	}
	return c.Value
}

// bind gives the browser its binding cookie (keeping the one it has, so
// sign-ins in two tabs both finish) and returns the value's hash.
func (s *Server) bind(w http.ResponseWriter, r *http.Request) string {
	v := browserCookie(r)
	if v == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		v = base64.RawURLEncoding.EncodeToString(b)
	}
	http.SetCookie(w, &http.Cookie{
		Name: bindingCookieName(r), Value: v, Path: "/", MaxAge: int(s.CodeTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil,
		// Lax: the browser comes back by top-level redirects from the
		// upstream consent, through the connect callback.
		SameSite: http.SameSiteLaxMode,
	})
	return hashOf(v)
}

// browserHash is the hash of r's binding cookie, "" without one.
func browserHash(r *http.Request) string {
	if v := browserCookie(r); v != "" {
		return hashOf(v)
	}
	return ""
}

func hashOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}
