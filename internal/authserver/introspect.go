package authserver

import (
	"net/http"
	"strings"
)

// introspect serves POST /1.1/oauth2/introspect: RFC 7662 in Fitbit's
// shape (https://dev.fitbit.com/build/reference/web-api/authorization/introspect/).
// The caller authenticates with a valid Bearer access token, as at Fitbit,
// and learns only about its own app's tokens: another app's, like an
// unknown, revoked or expired one, is {"active":false} (RFC 7662 §2.2, so
// that introspection cannot be used to scan for tokens).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) (client string, _ *Error) {
	p, e := s.params(w, r)
	if e != nil {
		return "", e
	}
	caller, _, e := s.lookup(r.Context(), bearerToken(r))
	if e != nil {
		return "", e
	}
	token := p.Get("token")
	if token == "" {
		return caller.Client, missing("token")
	}
	pr, a, e := s.lookup(r.Context(), token)
	if e == errStore {
		return caller.Client, e
	}
	if e != nil || pr.Client != caller.Client {
		writeJSON(w, map[string]bool{"active": false})
		return caller.Client, nil
	}
	writeJSON(w, struct {
		Active    bool   `json:"active"`
		Scope     string `json:"scope"`
		ClientID  string `json:"client_id"`
		UserID    string `json:"user_id"`
		TokenType string `json:"token_type"`
		Exp       int64  `json:"exp"`
		Iat       int64  `json:"iat"`
	}{true, fitbitScopeString(pr.Scopes), pr.Client, pr.UserID, "access_token",
		// Fitbit's example answer gives exp and iat in milliseconds
		// (RFC 7662 §2.2 says seconds; apps written for Fitbit read Fitbit's).
		a.Expires.UnixMilli(), a.Issued.UnixMilli()})
	return caller.Client, nil
}

// fitbitScopeString is Fitbit's rendering of granted scopes,
// "{ACTIVITY=READ, SLEEP=READ}". READ, not Fitbit's READ_WRITE: the gateway
// reads the user's data from Google read-only.
func fitbitScopeString(scopes []string) string {
	parts := make([]string, len(scopes))
	for i, sc := range scopes {
		parts[i] = strings.ToUpper(sc) + "=READ"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
