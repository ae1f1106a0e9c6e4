package module

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// DefaultIdentity is the placeholder naming the caller: whatever Caddy
// authentication module ran (basic_auth, forward_auth, a JWT plugin) sets it.
const DefaultIdentity = "{http.auth.user.id}"

// identityFunc compiles an identity expression into a function of the
// request. A single placeholder — the common case — is a direct replacer
// lookup, with no string building per request.
func identityFunc(expr string) func(*http.Request) string {
	if expr == "" {
		expr = DefaultIdentity
	}
	if key, ok := singlePlaceholder(expr); ok {
		return func(r *http.Request) string {
			repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			if repl == nil {
				return ""
			}
			s, _ := repl.GetString(key)
			return s
		}
	}
	return func(r *http.Request) string {
		repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if repl == nil {
			return ""
		}
		return repl.ReplaceKnown(expr, "")
	}
}

func singlePlaceholder(expr string) (string, bool) {
	if len(expr) < 3 || expr[0] != '{' || expr[len(expr)-1] != '}' {
		return "", false
	}
	key := expr[1 : len(expr)-1]
	if strings.ContainsAny(key, "{}") {
		return "", false
	}
	return key, true
}
