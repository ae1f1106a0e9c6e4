package googlesim

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// maxOAuthBody limits the bodies of the token and revoke endpoints.
const maxOAuthBody = 64 << 10

// OAuthError is an RFC 6749 error body as Google's token endpoint sends it.
// It never contains a token or code.
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, OAuthError{Error: code, ErrorDescription: desc})
}

// The error descriptions Google uses.
const (
	descRevoked        = "Token has been expired or revoked."
	descBadRequest     = "Bad Request"
	descClientNotFound = "The OAuth client was not found."
	descUnauthorized   = "Unauthorized"
	descNoClientID     = "Could not determine client ID from request."
)

// oauthForm reads the parameters of a token-endpoint POST: a form body or,
// as Google also accepts, a JSON object of strings. The query string is
// ignored (secrets do not belong in URLs).
func oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed: "+r.Method)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOAuthBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]any
		b, err := io.ReadAll(r.Body)
		if err != nil || json.Unmarshal(b, &m) != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON payload received.")
			return nil, false
		}
		form := url.Values{}
		for k, v := range m {
			str, ok := v.(string)
			if !ok {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON payload received. Invalid value at '"+k+"'.")
				return nil, false
			}
			form.Set(k, str)
		}
		return form, true
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed request body.")
		return nil, false
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Parameter not allowed to repeat: "+k)
			return nil, false
		}
	}
	return r.PostForm, true
}

// authenticateClient checks client_id and client_secret from the body or
// HTTP Basic (both may be present if they agree). It writes the error and
// returns false on failure.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) bool {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if r.Header.Get("Authorization") != "" {
		bid, bsecret, ok := r.BasicAuth()
		if !ok {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", descNoClientID)
			return false
		}
		if bid, err := url.QueryUnescape(bid); err == nil && (id == "" || id == bid) {
			id = bid
		} else {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", descNoClientID)
			return false
		}
		if bs, err := url.QueryUnescape(bsecret); err == nil && (secret == "" || secret == bs) {
			secret = bs
		} else {
			s.stats.invalidClients.Add(1)
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", descUnauthorized)
			return false
		}
	}
	switch {
	case id == "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descNoClientID)
		return false
	case !simkit.Equal(id, s.cfg.ClientID):
		s.stats.invalidClients.Add(1)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", descClientNotFound)
		return false
	case secret == "" || !simkit.Equal(secret, s.cfg.ClientSecret):
		s.stats.invalidClients.Add(1)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", descUnauthorized)
		return false
	}
	return true
}

// handleToken is POST /token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, ok := oauthForm(w, r)
	if !ok {
		return
	}
	isCode := form.Get("grant_type") == "authorization_code"
	if !s.authenticateClient(w, r, form) {
		if isCode {
			s.stats.codeExchangeFailures.Add(1)
		}
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		if !s.exchangeCode(w, form) {
			s.stats.codeExchangeFailures.Add(1)
		}
	case "refresh_token":
		s.refreshGrant(w, form)
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+truncate(gt, 64))
	}
}

func (s *Server) invalidGrant(w http.ResponseWriter, desc string) {
	s.stats.invalidGrants.Add(1)
	writeOAuthError(w, http.StatusBadRequest, "invalid_grant", desc)
}

// exchangeCode handles grant_type=authorization_code and reports success.
// A code presented with a wrong redirect_uri or verifier is spent.
func (s *Server) exchangeCode(w http.ResponseWriter, form url.Values) bool {
	code := form.Get("code")
	if code == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: code")
		return false
	}
	redirect, verifier := form.Get("redirect_uri"), form.Get("code_verifier")
	if redirect == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: redirect_uri")
		return false
	}
	now := s.now()
	s.mu.Lock()
	c := s.codes[simkit.SecretKey(code)]
	if c == nil || c.used || !now.Before(c.expires) {
		s.mu.Unlock()
		desc := descBadRequest
		if c == nil && !strings.HasPrefix(code, "4/") {
			desc = "Malformed auth code."
		}
		if c != nil {
			s.withUserStats(c.userID, func(u *UserStats) { u.InvalidGrants++ })
		}
		s.invalidGrant(w, desc)
		return false
	}
	c.used = true // from here on the code is spent, whatever the outcome
	if redirect != c.redirectURI {
		s.mu.Unlock()
		writeOAuthError(w, http.StatusBadRequest, "redirect_uri_mismatch", descBadRequest)
		return false
	}
	if c.challenge != "" && verifier == "" {
		s.userLocked(c.userID).stats.InvalidGrants++
		s.mu.Unlock()
		s.invalidGrant(w, "Missing code verifier.")
		return false
	}
	if c.challenge != "" && !simkit.VerifierMatches(verifier, c.challenge, c.method) {
		s.userLocked(c.userID).stats.InvalidGrants++
		s.mu.Unlock()
		s.invalidGrant(w, "Invalid code verifier.")
		return false
	}
	tr := s.tokenResponseLocked(c.userID, c.scopes, c.offline, now)
	u := s.userLocked(c.userID)
	u.stats.CodeExchanges++
	s.mu.Unlock()
	s.stats.codeExchanges.Add(1)
	if !c.offline {
		s.stats.exchangesWithoutRefreshToken.Add(1)
	}
	writeToken(w, tr)
	return true
}

func (s *Server) withUserStats(user string, f func(*UserStats)) {
	s.mu.Lock()
	f(&s.userLocked(user).stats)
	s.mu.Unlock()
}

// refreshGrant handles grant_type=refresh_token.
func (s *Server) refreshGrant(w http.ResponseWriter, form url.Values) {
	tok := form.Get("refresh_token")
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: refresh_token")
		return
	}
	now := s.now()
	s.mu.Lock()
	tr, _, outcome := s.refreshGrantLocked(tok, now)
	s.mu.Unlock()
	if outcome != refreshOK {
		s.invalidGrant(w, descRevoked)
		return
	}
	s.stats.refreshes.Add(1)
	if tr.RefreshToken != "" {
		s.stats.refreshTokensIssued.Add(1)
	}
	writeToken(w, tr)
}

func writeToken(w http.ResponseWriter, tr TokenResponse) {
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	writeRawJSON(w, http.StatusOK, marshalToken(tr))
}

// handleRevoke is POST /revoke with token=<access or refresh token> in the
// body (or, as Google also accepts, the query string). No client
// authentication. Revoking either kind of token revokes the user's whole
// grant for the client.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed: "+r.Method)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOAuthBody)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed request body.")
		return
	}
	tok := r.Form.Get("token")
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: token")
		return
	}
	now := s.now()
	user := ""
	s.mu.Lock()
	if at := s.access[simkit.SecretKey(tok)]; at != nil && !at.revoked && !at.forcedExpired && now.Before(at.exp) {
		user = at.userID
	} else if rt := s.refresh[simkit.SecretKey(tok)]; rt != nil && rt.live(now) {
		user = rt.userID
	}
	if user != "" {
		s.revokeUserLocked(user)
		s.userLocked(user).stats.Revocations++
	}
	s.mu.Unlock()
	if user == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	s.stats.revocations.Add(1)
	writeRawJSON(w, http.StatusOK, []byte("{}"))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
