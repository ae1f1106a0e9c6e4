package fitbitsim

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// handleAuthorize simulates Fitbit's consent page.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		errorPage(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	q := r.URL.Query()
	for _, p := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method", "prompt"} {
		if len(q[p]) > 1 {
			errorPage(w, http.StatusBadRequest, "parameter "+p+" repeated")
			return
		}
	}

	// Until client_id and redirect_uri are checked, nothing may redirect.
	clientID := q.Get("client_id")
	if clientID == "" {
		errorPage(w, http.StatusBadRequest, "missing client_id")
		return
	}
	if !simkit.Equal(clientID, s.cfg.ClientID) {
		errorPage(w, http.StatusBadRequest, "invalid client_id")
		return
	}
	redirect, given := q.Get("redirect_uri"), q.Has("redirect_uri")
	switch {
	case !given && len(s.cfg.RedirectURIs) == 1:
		redirect = s.cfg.RedirectURIs[0]
	case !given:
		errorPage(w, http.StatusBadRequest, "missing redirect_uri")
		return
	case len(s.cfg.RedirectURIs) > 0:
		if !slices.Contains(s.cfg.RedirectURIs, redirect) {
			errorPage(w, http.StatusBadRequest, "redirect_uri does not match a registered redirect URI")
			return
		}
	default:
		if !simkit.AbsoluteHTTPURL(redirect) {
			errorPage(w, http.StatusBadRequest, "invalid redirect_uri")
			return
		}
	}

	state, hasState := q.Get("state"), q.Has("state")
	fail := func(code, desc string) {
		redirectTo(w, redirect, [][2]string{{"error", code}, {"error_description", desc}}, state, hasState)
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		fail("invalid_request", "Missing parameter: response_type")
		return
	default:
		fail("unsupported_response_type", "Unsupported response_type: "+rt)
		return
	}
	scopeParam := q.Get("scope")
	if strings.TrimSpace(scopeParam) == "" {
		fail("invalid_request", "Missing parameter: scope")
		return
	}
	requested, unknown := parseScopes(scopeParam)
	if unknown != "" {
		fail("invalid_scope", "Invalid scope: "+unknown)
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		fail("invalid_request", "Missing parameter: code_challenge")
		return
	case challenge == "" && s.cfg.AppType != ServerApp:
		fail("invalid_request", "Missing parameter: code_challenge")
		return
	case challenge != "" && method != "S256":
		fail("invalid_request", "Invalid code_challenge_method: only S256 is supported")
		return
	case challenge != "" && !simkit.ValidChallenge(challenge, method):
		fail("invalid_request", "Invalid code_challenge")
		return
	}
	switch q.Get("prompt") {
	case "", "none", "consent", "login", "login consent", "consent login":
	default:
		fail("invalid_request", "Invalid prompt")
		return
	}

	c := s.Consent.Ask(r, requested)
	granted, ok := c.Grants(requested)
	if !ok {
		s.stats.denials.Add(1)
		fail("access_denied", "The user denied the request.")
		return
	}
	user := c.User(s.cfg.DefaultUser)

	code := simkit.RandomHex(20)
	s.Issued.Add(code)
	now := s.now()
	s.mu.Lock()
	s.pruneCodesLocked(now)
	s.codes[simkit.SecretKey(code)] = &authCode{
		clientID:      s.cfg.ClientID,
		redirectURI:   redirect,
		redirectGiven: given,
		challenge:     challenge,
		userID:        user,
		scopes:        granted,
		expires:       now.Add(codeLifetime),
	}
	s.mu.Unlock()
	s.stats.authorizations.Add(1)
	redirectTo(w, redirect, [][2]string{{"code", code}}, state, hasState)
}

// pruneCodesLocked forgets codes that expired long enough ago that nobody
// can be confused by "unknown" instead of "expired".
func (s *Server) pruneCodesLocked(now time.Time) {
	maps.DeleteFunc(s.codes, func(_ [32]byte, c *authCode) bool { return now.After(c.expires.Add(time.Hour)) })
}

// redirectTo sends a 302 to base with params (in order), then state, then
// Fitbit's "#_=_" fragment. An existing query string of base is kept as is.
func redirectTo(w http.ResponseWriter, base string, params [][2]string, state string, hasState bool) {
	if hasState {
		params = append(params, [2]string{"state", state})
	}
	w.Header().Set("Location", simkit.AppendQuery(base, params, url.QueryEscape)+"#_=_")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// errorPage is the consent page's answer when it cannot trust the redirect.
func errorPage(w http.ResponseWriter, status int, msg string) {
	simkit.WritePlainText(w, status, "Fitbit (simulated): the authorization request is invalid: "+msg+"\n")
}
