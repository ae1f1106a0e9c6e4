package fitbitsim

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// authParams are the authorization request's parameters, none of which
// may repeat.
var authParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state",
	"code_challenge", "code_challenge_method", "prompt"}

// authError is an error of an authorization request that goes back to the
// client's redirect URI.
type authError struct{ code, desc string }

// handleAuthorize simulates Fitbit's consent page: the client and its
// redirect URI first (their errors on a page of the simulator's own), then
// the request (its errors redirected), the user's consent, and a code.
//
// The consent is the Consent hook's answer, or, when it leaves the answer
// to a person (simkit.AskPerson), the page's form: posted back here with
// the request and the person's decision.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q, answer, ok := simkit.ReadAuthorize(w, r)
	if !ok {
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, http.StatusMethodNotAllowed, "method not allowed, or an unreadable form")
		return
	}
	if p, ok := simkit.Repeated(q, authParams...); ok {
		errorPage(w, http.StatusBadRequest, "parameter "+p+" repeated")
		return
	}
	// Until client_id and redirect_uri are checked, nothing may redirect.
	redirect, given, msg := s.checkClient(q)
	if msg != "" {
		errorPage(w, http.StatusBadRequest, msg)
		return
	}
	state, hasState := q.Get("state"), q.Has("state")
	fail := func(e authError) {
		redirectTo(w, redirect, [][2]string{{"error", e.code}, {"error_description", e.desc}}, state, hasState)
	}
	requested, challenge, bad := s.checkRequest(q)
	if bad != nil {
		fail(*bad)
		return
	}
	var c Consent
	switch {
	case answer != nil:
		c = *answer
	default:
		if c = s.Consent.Ask(r, requested); c.Page {
			simkit.WriteConsentPage(w, simkit.ConsentPage{
				Provider: "Fitbit (simulated)", Client: s.cfg.ClientID, User: c.User(s.cfg.DefaultUser),
				Path: pathAuthorize, Request: q, Scopes: requested, Label: scopeLabel,
			})
			return
		}
	}
	granted, ok := c.Grants(requested)
	if !ok {
		s.stats.denials.Add(1)
		fail(authError{"access_denied", "The user denied the request."})
		return
	}
	code := s.issueCode(&authCode{
		clientID:      s.cfg.ClientID,
		redirectURI:   redirect,
		redirectGiven: given,
		challenge:     challenge,
		userID:        c.User(s.cfg.DefaultUser),
		scopes:        granted,
	})
	redirectTo(w, redirect, [][2]string{{"code", code}}, state, hasState)
}

// checkClient checks client_id and redirect_uri, which must be right
// before anything can be redirected. It returns the redirect URI to use
// (the only registered one when none was given), whether one was given,
// and the error page's message ("" when both are right).
func (s *Server) checkClient(q url.Values) (redirect string, given bool, msg string) {
	clientID := q.Get("client_id")
	switch {
	case clientID == "":
		return "", false, "missing client_id"
	case !simkit.Equal(clientID, s.cfg.ClientID):
		return "", false, "invalid client_id"
	}
	redirect, given = q.Get("redirect_uri"), q.Has("redirect_uri")
	if !given {
		if len(s.cfg.RedirectURIs) == 1 {
			return s.cfg.RedirectURIs[0], false, ""
		}
		return "", false, "missing redirect_uri"
	}
	switch simkit.CheckRedirect(s.cfg.RedirectURIs, redirect) {
	case simkit.RedirectUnregistered:
		return "", true, "redirect_uri does not match a registered redirect URI"
	case simkit.RedirectInvalid:
		return "", true, "invalid redirect_uri"
	}
	return redirect, true, ""
}

// checkRequest checks the rest of the request once the redirect URI can be
// trusted: response_type, scope, PKCE and prompt. It returns the requested
// scopes and the code challenge, or the error to redirect.
func (s *Server) checkRequest(q url.Values) (requested []string, challenge string, bad *authError) {
	invalid := func(desc string) *authError { return &authError{"invalid_request", desc} }
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return nil, "", invalid("Missing parameter: response_type")
	default:
		return nil, "", &authError{"unsupported_response_type", "Unsupported response_type: " + rt}
	}
	scopeParam := q.Get("scope")
	if strings.TrimSpace(scopeParam) == "" {
		return nil, "", invalid("Missing parameter: scope")
	}
	requested, unknown := parseScopes(scopeParam)
	if unknown != "" {
		return nil, "", &authError{"invalid_scope", "Invalid scope: " + unknown}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return nil, "", invalid("Missing parameter: code_challenge")
	case challenge == "" && s.cfg.AppType != ServerApp:
		return nil, "", invalid("Missing parameter: code_challenge")
	case challenge != "" && method != "S256":
		return nil, "", invalid("Invalid code_challenge_method: only S256 is supported")
	case challenge != "" && !simkit.ValidChallenge(challenge, method):
		return nil, "", invalid("Invalid code_challenge")
	}
	switch q.Get("prompt") {
	case "", "none", "consent", "login", "login consent", "consent login":
	default:
		return nil, "", invalid("Invalid prompt")
	}
	return requested, challenge, nil
}

// issueCode stores c, valid for codeLifetime from now, under a new code,
// and returns the code.
func (s *Server) issueCode(c *authCode) string {
	code := simkit.RandomHex(20)
	s.Issued.Add(code)
	now := s.now()
	c.expires = now.Add(codeLifetime)
	s.mu.Lock()
	simkit.PruneCodes(s.codes, now, func(c *authCode) time.Time { return c.expires })
	s.codes[simkit.SecretKey(code)] = c
	s.mu.Unlock()
	s.stats.authorizations.Add(1)
	return code
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

// scopeLabel is a Fitbit scope as Fitbit's consent page words it.
func scopeLabel(scope string) string {
	if l, ok := scopeLabels[scope]; ok {
		return l
	}
	return scope
}

var scopeLabels = map[string]string{
	"activity": "activity and exercise", "heartrate": "heart rate", "location": "location",
	"nutrition": "food and water logs", "profile": "profile", "settings": "settings", "sleep": "sleep",
	"social": "friends", "weight": "weight", "oxygen_saturation": "oxygen saturation (SpO2)",
	"respiratory_rate": "breathing rate", "temperature": "temperature", "cardio_fitness": "cardio fitness score",
	"electrocardiogram": "ECG", "irregular_rhythm_notifications": "irregular rhythm notifications",
}
