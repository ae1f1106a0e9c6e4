package module

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// defaultIdentity is the placeholder naming the caller: whatever Caddy
// authentication module ran (basic_auth, forward_auth, a JWT plugin) sets it.
const defaultIdentity = "{http.auth.user.id}"

// identityFunc compiles an identity expression into a function of the
// request. It returns "" — which every caller refuses as unauthenticated —
// unless every placeholder in the expression resolves to a non-empty value.
// Leaving an unresolved placeholder as literal text (Replacer.ReplaceKnown)
// would fail open: every anonymous caller of "tenant-a:{http.auth.user.id}"
// would share the identity "tenant-a:{http.auth.user.id}", and a missing
// header would turn "tenant:{http.request.header.X-User}" into "tenant:".
//
// A single placeholder — the common case — is a direct replacer lookup, with
// no string building per request.
func identityFunc(expr string) func(*http.Request) string {
	if expr == "" {
		expr = defaultIdentity
	}
	if key, ok := singlePlaceholder(expr); ok {
		return func(r *http.Request) string {
			repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			if repl == nil {
				return ""
			}
			s, _ := repl.GetString(key) // "" when unknown or empty
			return s
		}
	}
	return func(r *http.Request) string {
		repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if repl == nil {
			return ""
		}
		// Caddy's own parser, so escaped braces (\{ \}) mean what they
		// mean everywhere else in a Caddy config.
		s, err := repl.ReplaceOrErr(expr, true, true)
		if err != nil {
			return ""
		}
		return s
	}
}

// singlePlaceholder returns the key of an expression that is exactly one
// placeholder, such as {http.auth.user.id}.
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

// constantIdentity reports whether expr names the same identity for every
// caller: it holds no placeholder. That is a valid configuration (a
// gateway for one user), but rarely what is meant; provisioning warns.
func constantIdentity(expr string) bool {
	if expr == "" {
		return false
	}
	// An empty replacer knows no placeholder: any one in expr is an error.
	_, err := caddy.NewEmptyReplacer().ReplaceOrErr(expr, false, true)
	return err == nil
}

// warnConstantIdentity logs when expr gives every caller one identity.
func warnConstantIdentity(ctx caddy.Context, expr string) {
	if constantIdentity(expr) {
		ctx.Logger().Warn("the identity expression holds no placeholder: every caller shares one connection", zap.String("identity", expr))
	}
}
