package googlesim

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// AuthRequest is one request to the consent screen, as the simulator
// understood it, so tests can check what a client asked for.
type AuthRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scopes              []string // requested, sorted
	State               string
	AccessType          string // "", "online" or "offline"
	Prompt              string
	IncludeGrantedScope bool
	CodeChallengeMethod string // "" when no PKCE challenge was sent
	UserID              string // who answered; empty if the request was rejected earlier
	Granted             []string
	// Error is the error shown on the page or sent to the redirect URI
	// ("" when a code was issued).
	Error string
	// RefreshTokenEligible: the code's exchange will return a refresh token
	// (access_type=offline and either prompt=consent or a first consent).
	RefreshTokenEligible bool
}

// AuthRequests returns the consent-screen requests received so far.
func (s *Server) AuthRequests() []AuthRequest { return s.auths.All() }

// handleAuthorize simulates Google's consent screen, GET /o/oauth2/v2/auth.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		errorPage(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed.")
		return
	}
	q := r.URL.Query()
	a := AuthRequest{
		ClientID:            q.Get("client_id"),
		RedirectURI:         q.Get("redirect_uri"),
		ResponseType:        q.Get("response_type"),
		State:               q.Get("state"),
		AccessType:          q.Get("access_type"),
		Prompt:              q.Get("prompt"),
		IncludeGrantedScope: q.Get("include_granted_scopes") == "true",
	}
	a.Scopes, _ = s.parseScopes(q.Get("scope"))
	page := func(code, msg string) {
		a.Error = code
		s.auths.Add(a)
		errorPage(w, http.StatusBadRequest, code, msg)
	}
	for _, p := range []string{"client_id", "redirect_uri", "response_type", "scope", "state",
		"code_challenge", "code_challenge_method", "access_type", "prompt"} {
		if len(q[p]) > 1 {
			page("invalid_request", "Parameter not allowed to repeat: "+p)
			return
		}
	}

	// Until client_id and redirect_uri are checked, nothing may redirect.
	switch {
	case a.ClientID == "":
		page("invalid_request", "Missing required parameter: client_id")
		return
	case !simkit.Equal(a.ClientID, s.cfg.ClientID):
		page("invalid_client", "The OAuth client was not found.")
		return
	case a.RedirectURI == "":
		page("invalid_request", "Missing required parameter: redirect_uri")
		return
	case len(s.cfg.RedirectURIs) > 0 && !slices.Contains(s.cfg.RedirectURIs, a.RedirectURI):
		page("redirect_uri_mismatch", "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri="+a.RedirectURI)
		return
	case len(s.cfg.RedirectURIs) == 0 && !simkit.AbsoluteHTTPURL(a.RedirectURI):
		page("invalid_request", "Invalid parameter value for redirect_uri: "+a.RedirectURI)
		return
	}
	// Google shows malformed requests on its own error page too; only the
	// user's decision goes back to the client.
	switch a.ResponseType {
	case "code":
	case "":
		page("invalid_request", "Missing required parameter: response_type")
		return
	default:
		page("unsupported_response_type", "Unsupported response_type: "+a.ResponseType)
		return
	}
	if strings.TrimSpace(q.Get("scope")) == "" {
		page("invalid_request", "Missing required parameter: scope")
		return
	}
	if _, unknown := s.parseScopes(q.Get("scope")); unknown != "" {
		page("invalid_scope", "Some requested scopes were invalid. {invalid=["+unknown+"]}")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain" // RFC 7636's default, as at Google
	}
	switch {
	case challenge == "" && method != "":
		page("invalid_request", "Missing required parameter: code_challenge")
		return
	case challenge != "" && method != "S256" && method != "plain":
		page("invalid_request", "Invalid code_challenge_method: "+method)
		return
	case challenge != "" && !simkit.ValidChallenge(challenge, method):
		page("invalid_request", "Invalid code_challenge.")
		return
	}
	a.CodeChallengeMethod = method
	switch a.AccessType {
	case "", "online", "offline":
	default:
		page("invalid_request", "Invalid access_type: "+a.AccessType)
		return
	}
	prompts := strings.Fields(a.Prompt)
	for _, p := range prompts {
		if p != "none" && p != "consent" && p != "select_account" {
			page("invalid_request", "Invalid prompt: "+a.Prompt)
			return
		}
	}
	silent := slices.Contains(prompts, "none")
	if silent && len(prompts) > 1 {
		page("invalid_request", "Invalid prompt: "+a.Prompt)
		return
	}

	requested := a.Scopes
	c := s.Consent.Ask(r, requested)
	user := c.User(s.cfg.DefaultUser)
	a.UserID = user
	fail := func(code string) {
		a.Error = code
		s.auths.Add(a)
		redirectTo(w, a.RedirectURI, [][2]string{{"error", code}}, a.State, q.Has("state"))
	}
	now := s.now()
	s.mu.Lock()
	prior := slices.Clone(s.userLocked(user).grant)
	firstOffline := !s.hasLiveRefreshLocked(user, now)
	s.mu.Unlock()

	var granted []string
	shown := true
	if silent {
		// prompt=none: no screen; only an existing grant can answer.
		if c.Deny || len(simkit.IntersectScopes(prior, requested)) != len(requested) {
			fail("consent_required")
			return
		}
		granted, shown = requested, false
	} else {
		var ok bool
		if granted, ok = c.Grants(requested); !ok {
			s.stats.denials.Add(1)
			fail("access_denied")
			return
		}
	}
	if a.IncludeGrantedScope {
		granted = simkit.UnionScopes(granted, prior)
	}
	a.Granted = granted
	a.RefreshTokenEligible = a.AccessType == "offline" &&
		(slices.Contains(prompts, "consent") || firstOffline)

	code := codePrefix + simkit.RandomB64(48)
	s.Issued.Add(code)
	s.mu.Lock()
	s.pruneCodesLocked(now)
	u := s.userLocked(user)
	u.grant = simkit.UnionScopes(u.grant, granted)
	u.stats.Authorizations++
	s.codes[simkit.SecretKey(code)] = &authCode{
		redirectURI: a.RedirectURI,
		challenge:   challenge,
		method:      method,
		userID:      user,
		scopes:      granted,
		offline:     a.RefreshTokenEligible,
		expires:     now.Add(codeLifetime),
	}
	s.mu.Unlock()
	s.stats.authorizations.Add(1)
	if a.RefreshTokenEligible {
		s.stats.offlineAuthorizations.Add(1)
	}
	s.auths.Add(a)
	promptOut := "none"
	if shown {
		promptOut = "consent"
	}
	redirectTo(w, a.RedirectURI, [][2]string{
		{"code", code}, {"scope", strings.Join(granted, " ")}, {"authuser", "0"}, {"prompt", promptOut},
	}, a.State, q.Has("state"))
}

// pruneCodesLocked forgets codes that expired long enough ago that nobody
// can be confused by "unknown" instead of "expired".
func (s *Server) pruneCodesLocked(now time.Time) {
	maps.DeleteFunc(s.codes, func(_ [32]byte, c *authCode) bool { return now.After(c.expires.Add(time.Hour)) })
}

// redirectTo sends a 302 to base with state first (as Google does), then
// params in order. An existing query string of base is kept. Unlike
// Fitbit, Google adds no fragment.
func redirectTo(w http.ResponseWriter, base string, params [][2]string, state string, hasState bool) {
	if hasState {
		params = append([][2]string{{"state", state}}, params...)
	}
	w.Header().Set("Location", simkit.AppendQuery(base, params, queryEscape))
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(http.StatusFound)
}

// queryEscape escapes like Google's redirects: spaces as %20, not "+".
func queryEscape(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
}

// errorPage is the consent screen's answer when it cannot or must not
// redirect: Google's "Error 400: <code>" page, in plain text.
func errorPage(w http.ResponseWriter, status int, code, msg string) {
	simkit.WritePlainText(w, status, "Google (simulated): Access blocked: Authorization Error\nError 400: "+code+"\n"+msg+"\n")
}
