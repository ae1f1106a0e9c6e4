package simkit

import (
	"net/http"
	"strings"
)

// BearerToken extracts the token of an "Authorization: Bearer" header (the
// scheme is case-insensitive) and reports whether there was one.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}
