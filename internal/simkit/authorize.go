package simkit

import (
	"maps"
	"net/url"
	"slices"
	"time"
)

// Repeated returns the first of names that q carries more than once. RFC
// 6749 §3.1: request parameters "MUST NOT be included more than once".
func Repeated(q url.Values, names ...string) (string, bool) {
	for _, p := range names {
		if len(q[p]) > 1 {
			return p, true
		}
	}
	return "", false
}

// RedirectCheck is how a redirect_uri compares with the client's
// registration.
type RedirectCheck int

const (
	RedirectOK           RedirectCheck = iota
	RedirectUnregistered               // URIs are registered and this is none of them
	RedirectInvalid                    // none are registered and this is no absolute http(s) URL
)

// CheckRedirect checks uri against the registered redirect URIs: an exact
// match (RFC 6749 §3.1.2.3), or any absolute http(s) URL when none are
// registered, which is how a simulator serves any test's callback.
func CheckRedirect(registered []string, uri string) RedirectCheck {
	switch {
	case len(registered) > 0 && !slices.Contains(registered, uri):
		return RedirectUnregistered
	case len(registered) == 0 && !AbsoluteHTTPURL(uri):
		return RedirectInvalid
	}
	return RedirectOK
}

// CodeGrace is how long past its expiry an authorization code is still
// remembered, so that an exchange a little late is told "expired" rather
// than "unknown".
const CodeGrace = time.Hour

// PruneCodes forgets the codes of m that expired more than CodeGrace
// before now; expires reads a code's expiry.
func PruneCodes[C any](m map[[32]byte]C, now time.Time, expires func(C) time.Time) {
	maps.DeleteFunc(m, func(_ [32]byte, c C) bool { return now.After(expires(c).Add(CodeGrace)) })
}
