package googlesim

import (
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

// authParams are the consent screen's parameters, none of which may
// repeat.
var authParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state",
	"code_challenge", "code_challenge_method", "access_type", "prompt"}

// pageError is an error the consent screen shows on its own page.
type pageError struct{ code, msg string }

// handleAuthorize simulates Google's consent screen, GET /o/oauth2/v2/auth:
// the request is checked (every problem on Google's error page), the user
// consents or not (that decision goes back to the client), and a code is
// issued.
//
// The consent is the Consent hook's answer, or, when it leaves the answer
// to a person (simkit.AskPerson), the screen's form: posted back here with
// the request and the person's decision.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q, answer, ok := simkit.ReadAuthorize(w, r)
	if !ok {
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed, or an unreadable form.")
		return
	}
	a := authRequestOf(q)
	a.Scopes, _ = s.parseScopes(q.Get("scope"))
	challenge, bad := s.checkAuthRequest(q, &a)
	if bad != nil {
		a.Error = bad.code
		s.auths.Add(a)
		errorPage(w, http.StatusBadRequest, bad.code, bad.msg)
		return
	}

	var c Consent
	switch {
	case answer != nil:
		c = *answer
	default:
		c = s.Consent.Ask(r, a.Scopes)
		// prompt=none shows no screen: only an existing grant answers.
		if c.Page && !slices.Contains(strings.Fields(a.Prompt), "none") {
			simkit.WriteConsentPage(w, simkit.ConsentPage{
				Provider: "Google (simulated)", Client: a.ClientID, User: c.User(s.cfg.DefaultUser),
				Path: pathAuthorize, Request: q, Scopes: a.Scopes, Label: shortScope,
			})
			return
		}
	}
	a.UserID = c.User(s.cfg.DefaultUser)
	now := s.now()
	granted, shown, refused := s.decide(c, &a, now)
	if refused != "" {
		a.Error = refused
		s.auths.Add(a)
		redirectTo(w, a.RedirectURI, [][2]string{{"error", refused}}, a.State, q.Has("state"))
		return
	}
	a.Granted = granted
	code := s.issueCode(&a, challenge, now)
	s.auths.Add(a)
	promptOut := "none"
	if shown {
		promptOut = "consent"
	}
	redirectTo(w, a.RedirectURI, [][2]string{
		{"code", code}, {"scope", strings.Join(granted, " ")}, {"authuser", "0"}, {"prompt", promptOut},
	}, a.State, q.Has("state"))
}

// authRequestOf reads the consent screen's parameters as given.
func authRequestOf(q url.Values) AuthRequest {
	return AuthRequest{
		ClientID:            q.Get("client_id"),
		RedirectURI:         q.Get("redirect_uri"),
		ResponseType:        q.Get("response_type"),
		State:               q.Get("state"),
		AccessType:          q.Get("access_type"),
		Prompt:              q.Get("prompt"),
		IncludeGrantedScope: q.Get("include_granted_scopes") == "true",
	}
}

// checkAuthRequest checks everything the consent screen checks before it
// asks the user. Google shows malformed requests on its own error page;
// only the user's decision goes back to the client. It returns the PKCE
// challenge and sets a.CodeChallengeMethod.
func (s *Server) checkAuthRequest(q url.Values, a *AuthRequest) (challenge string, bad *pageError) {
	if p, ok := simkit.Repeated(q, authParams...); ok {
		return "", &pageError{"invalid_request", "Parameter not allowed to repeat: " + p}
	}
	// Until client_id and redirect_uri are checked, nothing may redirect.
	if bad := s.checkClient(a); bad != nil {
		return "", bad
	}
	switch a.ResponseType {
	case "code":
	case "":
		return "", &pageError{"invalid_request", "Missing required parameter: response_type"}
	default:
		return "", &pageError{"unsupported_response_type", "Unsupported response_type: " + a.ResponseType}
	}
	if strings.TrimSpace(q.Get("scope")) == "" {
		return "", &pageError{"invalid_request", "Missing required parameter: scope"}
	}
	if _, unknown := s.parseScopes(q.Get("scope")); unknown != "" {
		return "", &pageError{"invalid_scope", "Some requested scopes were invalid. {invalid=[" + unknown + "]}"}
	}
	challenge, method, bad := checkChallenge(q.Get("code_challenge"), q.Get("code_challenge_method"))
	if bad != nil {
		return "", bad
	}
	a.CodeChallengeMethod = method
	switch a.AccessType {
	case "", "online", "offline":
	default:
		return "", &pageError{"invalid_request", "Invalid access_type: " + a.AccessType}
	}
	return challenge, checkPrompt(a.Prompt)
}

// checkClient checks client_id and redirect_uri.
func (s *Server) checkClient(a *AuthRequest) *pageError {
	switch {
	case a.ClientID == "":
		return &pageError{"invalid_request", "Missing required parameter: client_id"}
	case !simkit.Equal(a.ClientID, s.cfg.ClientID):
		return &pageError{"invalid_client", "The OAuth client was not found."}
	case a.RedirectURI == "":
		return &pageError{"invalid_request", "Missing required parameter: redirect_uri"}
	}
	switch simkit.CheckRedirect(s.cfg.RedirectURIs, a.RedirectURI) {
	case simkit.RedirectUnregistered:
		return &pageError{"redirect_uri_mismatch", "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri=" + a.RedirectURI}
	case simkit.RedirectInvalid:
		return &pageError{"invalid_request", "Invalid parameter value for redirect_uri: " + a.RedirectURI}
	}
	return nil
}

// checkChallenge checks the PKCE parameters. It returns the challenge and
// its method ("" without a challenge; a challenge without a method is
// "plain", RFC 7636's default, as at Google).
func checkChallenge(challenge, method string) (string, string, *pageError) {
	if challenge != "" && method == "" {
		method = "plain"
	}
	switch {
	case challenge == "" && method != "":
		return "", "", &pageError{"invalid_request", "Missing required parameter: code_challenge"}
	case challenge != "" && method != "S256" && method != "plain":
		return "", "", &pageError{"invalid_request", "Invalid code_challenge_method: " + method}
	case challenge != "" && !simkit.ValidChallenge(challenge, method):
		return "", "", &pageError{"invalid_request", "Invalid code_challenge."}
	}
	return challenge, method, nil
}

// checkPrompt checks prompt: space-separated none, consent and
// select_account, with none only alone.
func checkPrompt(prompt string) *pageError {
	prompts := strings.Fields(prompt)
	for _, p := range prompts {
		if p != "none" && p != "consent" && p != "select_account" {
			return &pageError{"invalid_request", "Invalid prompt: " + prompt}
		}
	}
	if slices.Contains(prompts, "none") && len(prompts) > 1 {
		return &pageError{"invalid_request", "Invalid prompt: " + prompt}
	}
	return nil
}

// decide applies the user's consent c to a: the scopes granted, whether a
// screen was shown, or the error to redirect ("consent_required",
// "access_denied"). It sets a.RefreshTokenEligible.
func (s *Server) decide(c simkit.Consent, a *AuthRequest, now time.Time) (granted []string, shown bool, refused string) {
	s.mu.Lock()
	prior := slices.Clone(s.userLocked(a.UserID).grant)
	firstOffline := !s.hasLiveRefreshLocked(a.UserID, now)
	s.mu.Unlock()

	prompts := strings.Fields(a.Prompt)
	if slices.Contains(prompts, "none") {
		// prompt=none: no screen; only an existing grant can answer.
		if c.Deny || len(simkit.IntersectScopes(prior, a.Scopes)) != len(a.Scopes) {
			return nil, false, "consent_required"
		}
		granted = a.Scopes
	} else {
		var ok bool
		if granted, ok = c.Grants(a.Scopes); !ok {
			s.stats.denials.Add(1)
			return nil, true, "access_denied"
		}
		shown = true
	}
	if a.IncludeGrantedScope {
		granted = simkit.UnionScopes(granted, prior)
	}
	a.RefreshTokenEligible = a.AccessType == "offline" &&
		(slices.Contains(prompts, "consent") || firstOffline)
	return granted, shown, ""
}

// issueCode issues a code for the decided request a, adds the grant to the
// user's and returns the code.
func (s *Server) issueCode(a *AuthRequest, challenge string, now time.Time) string {
	code := codePrefix + simkit.RandomB64(48)
	s.Issued.Add(code)
	s.mu.Lock()
	simkit.PruneCodes(s.codes, now, func(c *authCode) time.Time { return c.expires })
	u := s.userLocked(a.UserID)
	u.grant = simkit.UnionScopes(u.grant, a.Granted)
	u.stats.Authorizations++
	s.codes[simkit.SecretKey(code)] = &authCode{
		redirectURI: a.RedirectURI,
		challenge:   challenge,
		method:      a.CodeChallengeMethod,
		userID:      a.UserID,
		scopes:      a.Granted,
		offline:     a.RefreshTokenEligible,
		expires:     now.Add(codeLifetime),
	}
	s.mu.Unlock()
	s.stats.authorizations.Add(1)
	if a.RefreshTokenEligible {
		s.stats.offlineAuthorizations.Add(1)
	}
	return code
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

// shortScope is a scope without Google's common prefix, as the consent
// screen lists it.
func shortScope(scope string) string {
	for _, p := range []string{DefaultScopePrefix, "https://www.googleapis.com/auth/"} {
		if rest, ok := strings.CutPrefix(scope, p); ok {
			return rest
		}
	}
	return scope
}
