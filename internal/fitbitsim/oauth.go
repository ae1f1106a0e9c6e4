package fitbitsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// visit ends most of Fitbit's OAuth error messages.
const visit = "Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API authorization process."

// maxOAuthBody limits the bodies of the token, revoke and introspect endpoints.
const maxOAuthBody = 64 << 10

func missingParams(w http.ResponseWriter, names ...string) {
	apierror.Write(w, http.StatusBadRequest, apierror.Item{
		ErrorType: apierror.InvalidRequest,
		Message:   "Missing parameters: " + strings.Join(names, ", ") + ". " + visit,
	})
}

func invalidRequest(w http.ResponseWriter, msg string) {
	apierror.Write(w, http.StatusBadRequest, apierror.Item{ErrorType: apierror.InvalidRequest, Message: msg + " " + visit})
}

func invalidClient(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="api.fitbit.com"`)
	apierror.Write(w, http.StatusUnauthorized, apierror.Item{
		ErrorType: apierror.InvalidClient,
		Message:   "Invalid authorization header. Client id invalid. " + visit,
	})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	apierror.Write(w, http.StatusMethodNotAllowed, apierror.Item{
		ErrorType: "method_not_allowed",
		Message:   "HTTP method " + r.Method + " is not supported by this URL.",
	})
}

// oauthForm reads the parameters of an OAuth POST: the form body and, as
// some old clients send them, the query string (the body wins).
func oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOAuthBody)
	if err := r.ParseForm(); err != nil {
		invalidRequest(w, "Malformed request body.")
		return nil, false
	}
	return r.Form, true
}

// clientAuthenticated applies the app type's client authentication:
// server apps need Basic with the secret; client and personal apps send
// client_id in the body (Basic is also accepted, its secret checked if sent).
func (s *Server) clientAuthenticated(r *http.Request, form url.Values) bool {
	if len(form["client_id"]) > 1 {
		return false
	}
	bodyID := form.Get("client_id")
	if r.Header.Get("Authorization") != "" {
		id, secret, ok := r.BasicAuth()
		if !ok || !simkit.Equal(id, s.cfg.ClientID) || (bodyID != "" && bodyID != id) {
			return false
		}
		if s.cfg.AppType == ServerApp || secret != "" {
			return simkit.Equal(secret, s.cfg.ClientSecret)
		}
		return true
	}
	if s.cfg.AppType == ServerApp {
		return false
	}
	return bodyID != "" && simkit.Equal(bodyID, s.cfg.ClientID)
}

// lifetime reads the optional expires_in parameter (3600..28800 seconds).
func (s *Server) lifetime(form url.Values) (time.Duration, bool) {
	if !form.Has("expires_in") {
		return time.Duration(s.tokenLifetime.Load()), true
	}
	n, err := strconv.Atoi(form.Get("expires_in"))
	if err != nil || n < 3600 || n > 28800 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// handleToken is POST /oauth2/token. Injected faults (faults.go) are
// decided once the form is read, before client authentication, the way an
// overloaded front end fails before the OAuth service sees the request.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, ok := oauthForm(w, r)
	if !ok {
		return
	}
	if p := s.planFault(form.Get("grant_type")); p != (faultPlan{}) {
		s.serveFaulted(w, r, form, p)
		return
	}
	s.tokenGrant(w, r, form)
}

// tokenGrant authenticates the client and runs the grant.
func (s *Server) tokenGrant(w http.ResponseWriter, r *http.Request, form url.Values) {
	w, reportToHook := s.withTokenHook(w, r, form.Get("grant_type")) // hooks.go
	defer reportToHook()
	isCode := form.Get("grant_type") == "authorization_code"
	if !s.clientAuthenticated(r, form) {
		if isCode {
			s.stats.codeExchangeFailures.Add(1)
		}
		invalidClient(w)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		if !s.exchangeCode(w, form) {
			s.stats.codeExchangeFailures.Add(1)
		}
	case "refresh_token":
		s.refreshGrant(w, form)
	case "":
		missingParams(w, "grant_type")
	default:
		apierror.Write(w, http.StatusBadRequest, apierror.Item{
			ErrorType: "unsupported_grant_type",
			Message:   "The grant type " + gt + " is not supported. " + visit,
		})
	}
}

func (s *Server) invalidCode(w http.ResponseWriter, code string) {
	s.stats.invalidGrants.Add(1)
	apierror.Write(w, http.StatusBadRequest, apierror.Item{
		ErrorType: apierror.InvalidGrant,
		Message:   "Authorization code invalid: " + code + " " + visit,
	})
}

// exchangeCode handles grant_type=authorization_code and reports success.
// A code that is presented with a wrong redirect_uri or verifier is burnt.
func (s *Server) exchangeCode(w http.ResponseWriter, form url.Values) bool {
	code := form.Get("code")
	if code == "" {
		missingParams(w, "code")
		return false
	}
	life, ok := s.lifetime(form)
	if !ok {
		invalidRequest(w, "Invalid value for: expires_in.")
		return false
	}
	redirect, verifier := form.Get("redirect_uri"), form.Get("code_verifier")
	now := s.now()

	s.mu.Lock()
	c := s.codes[simkit.SecretKey(code)]
	if c == nil || c.used || !now.Before(c.expires) || !simkit.Equal(c.clientID, s.cfg.ClientID) {
		s.mu.Unlock()
		s.invalidCode(w, code)
		return false
	}
	var missing []string
	if c.redirectGiven && redirect == "" {
		missing = append(missing, "redirect_uri")
	}
	if c.challenge != "" && verifier == "" {
		missing = append(missing, "code_verifier")
	}
	if len(missing) > 0 {
		s.mu.Unlock()
		missingParams(w, missing...)
		return false
	}
	c.used = true // from here on the code is spent, whatever the outcome
	if (redirect != "" || c.redirectGiven) && redirect != c.redirectURI {
		s.mu.Unlock()
		s.invalidCode(w, code)
		return false
	}
	if c.challenge != "" && !simkit.VerifierMatches(verifier, c.challenge, "S256") {
		s.mu.Unlock()
		s.invalidCode(w, code)
		return false
	}
	body := s.startChainLocked(c.userID, c.clientID, c.scopes, life, now)
	s.logLocked(c.userID, EventCodeExchange, now)
	s.mu.Unlock()
	s.stats.codeExchanges.Add(1)
	writeToken(w, body)
	return true
}

// refreshParams reads the refresh token and the optional expires_in of a
// refresh or recovery request, answering the request itself when they are
// missing or malformed.
func (s *Server) refreshParams(w http.ResponseWriter, form url.Values) (tok string, life time.Duration, ok bool) {
	tok = form.Get("refresh_token")
	if tok == "" {
		missingParams(w, "refresh_token")
		return "", 0, false
	}
	if life, ok = s.lifetime(form); !ok {
		invalidRequest(w, "Invalid value for: expires_in.")
		return "", 0, false
	}
	return tok, life, true
}

// refreshGrant handles grant_type=refresh_token.
func (s *Server) refreshGrant(w http.ResponseWriter, form url.Values) {
	tok, life, ok := s.refreshParams(w, form)
	if !ok {
		return
	}
	body, outcome := s.rotate(s.cfg.ClientID, tok, life)
	switch outcome {
	case refreshRotated:
		s.stats.refreshes.Add(1)
		writeToken(w, body)
		return
	case refreshReplayed:
		s.stats.graceReplays.Add(1)
		writeToken(w, body)
		return
	case refreshReused:
		s.stats.refreshReuseRejected.Add(1)
	}
	s.stats.invalidGrants.Add(1)
	apierror.Write(w, http.StatusBadRequest, apierror.Item{
		ErrorType: apierror.InvalidGrant,
		Message:   "Refresh token invalid: " + tok + ". " + visit,
	})
}

func writeToken(w http.ResponseWriter, body []byte) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeRawJSON(w, http.StatusOK, body)
}

// handleRevoke is POST /oauth2/revoke (RFC 7009): revoking either token
// revokes all of the user's tokens for the app.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, ok := oauthForm(w, r)
	if !ok || s.revokeFault(w) {
		return
	}
	if !s.clientAuthenticated(r, form) {
		invalidClient(w)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		missingParams(w, "token")
		return
	}
	user := ""
	if c, ok := verifyJWT(s.key, tok); ok {
		s.mu.Lock()
		if at := s.access[c.Jti]; at != nil {
			user = at.userID
		}
		s.mu.Unlock()
	} else {
		s.mu.Lock()
		if rt := s.refresh[simkit.SecretKey(tok)]; rt != nil {
			user = rt.userID
		}
		s.mu.Unlock()
	}
	if user == "" {
		apierror.Write(w, http.StatusNotFound, apierror.Item{
			ErrorType: "not_found",
			Message:   "The token was not found. " + visit,
		})
		return
	}
	s.RevokeUser(user)
	s.stats.revocations.Add(1)
	writeRawJSON(w, http.StatusOK, []byte("{}"))
}

// introspection is the active answer of the introspect endpoint.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	UserID    string `json:"user_id"`
	TokenType string `json:"token_type"`
	Exp       int64  `json:"exp"` // milliseconds since the epoch, as Fitbit
	Iat       int64  `json:"iat"` // milliseconds since the epoch, as Fitbit
}

// handleIntrospect is POST /1.1/oauth2/introspect (RFC 7662), authorized by
// a valid bearer token. Only access tokens can be active.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, ok := oauthForm(w, r)
	if !ok {
		return
	}
	bearer, _ := simkit.BearerToken(r)
	if _, st := s.checkAccess(bearer, true); st != accessOK {
		writeAccessError(w, bearer, st)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		missingParams(w, "token")
		return
	}
	s.stats.introspections.Add(1)
	at, st := s.checkAccess(tok, false)
	if st != accessOK {
		writeRawJSON(w, http.StatusOK, []byte(`{"active":false}`))
		return
	}
	writeJSON(w, http.StatusOK, introspection{
		Active:    true,
		Scope:     introspectScopes(at.scopes),
		ClientID:  at.clientID,
		UserID:    at.userID,
		TokenType: "access_token",
		Exp:       at.exp.UnixMilli(),
		Iat:       at.iat.UnixMilli(),
	})
}

// writeAccessError answers a bad bearer token the way Fitbit does.
func writeAccessError(w http.ResponseWriter, tok string, st accessStatus) {
	if len(tok) > maxTokenLen {
		tok = tok[:maxTokenLen]
	}
	it := apierror.Item{ErrorType: apierror.InvalidToken, Message: "Access token invalid: " + tok + ". " + visit}
	if st == accessExpired {
		it = apierror.Item{ErrorType: apierror.ExpiredToken, Message: "Access token expired: " + tok + ". " + visit}
	}
	apierror.Write(w, http.StatusUnauthorized, it)
}
