package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Limits on parameters, far above what real apps send.
const (
	maxParamLen = 2048
	maxStateLen = 2048
)

// PKCE methods (RFC 7636 §4.2).
const (
	S256  = "S256"
	Plain = "plain"
)

// Prompts Fitbit documented for the authorize step.
var prompts = []string{"none", "consent", "login", "login consent"}

// Authorization is a checked authorize request: what the user is asked to
// grant, and where the answer goes.
type Authorization struct {
	App         App
	RedirectURI string
	State       string
	Scopes      []string // Fitbit names, deduplicated, in the order asked
	Challenge   string   // empty: no PKCE (server apps only)
	Method      string   // S256 or plain
	// Prompt is Fitbit's (none, consent, login, "login consent"); the
	// front passes its meaning on to the upstream consent.
	Prompt string
}

// AuthorizeError is a refused authorize request. With RedirectURI set, the
// browser goes back to the app with error (RFC 6749 §4.1.2.1); without, the
// client or redirect URI could not be trusted and the user is shown
// Description instead, never redirected (an open redirector otherwise).
type AuthorizeError struct {
	Code        string // invalid_request, unsupported_response_type, invalid_scope, access_denied…
	Description string
	RedirectURI string
	State       string
}

func (e *AuthorizeError) Error() string {
	return "authserver: authorize: " + e.Code + ": " + e.Description
}

// Redirect is where the browser goes with the refusal ("" when it must not
// be redirected).
func (e *AuthorizeError) Redirect() string {
	if e.RedirectURI == "" {
		return ""
	}
	return appendQuery(e.RedirectURI, url.Values{"error": {e.Code}, "error_description": {e.Description}}, e.State)
}

// Denied is the refusal of a user who declined the consent.
func (a *Authorization) Denied() *AuthorizeError {
	return &AuthorizeError{Code: "access_denied", Description: "The user denied the request.", RedirectURI: a.RedirectURI, State: a.State}
}

// CodeRedirect is where the browser goes with a code.
func (a *Authorization) CodeRedirect(code string) string {
	return appendQuery(a.RedirectURI, url.Values{"code": {code}}, a.State)
}

// appendQuery adds v and state to the redirect URI's query, keeping its own
// parameters (RFC 6749 §3.1.2), and appends Fitbit's "#_=_", which Fitbit
// added on success and failure alike and some apps strip expecting it.
func appendQuery(redirect string, v url.Values, state string) string {
	u, _ := url.Parse(redirect) // registered, checked by App.Validate
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	u.Fragment = "_=_"
	return u.String()
}

// ParseAuthorize checks an authorize request's parameters
// (https://dev.fitbit.com/build/reference/web-api/authorization/authorize/,
// RFC 6749 §4.1.1, RFC 7636 §4.3).
//
// response_type=token, Fitbit's implicit grant, is refused as
// unsupported_response_type: it puts a long-lived access token in the
// browser's address bar and history, with no way to bind it to the client,
// and RFC 9700 §2.1.2 says it SHOULD NOT be used; every app that used it
// can use the code flow with PKCE instead, which Fitbit also offered. Hence
// Fitbit's expires_in, which only the implicit grant read, is ignored.
func (s *Server) ParseAuthorize(q url.Values) (*Authorization, *AuthorizeError) {
	for k, v := range q {
		if len(v) > 1 {
			// RFC 6749 §3.1: parameters must not be repeated. Checked
			// before anything else, so that a second redirect_uri cannot
			// change where an error goes.
			return nil, &AuthorizeError{Code: "invalid_request", Description: "The parameter " + k + " is repeated."}
		}
	}
	app, ok := s.Apps[q.Get("client_id")]
	if !ok {
		return nil, &AuthorizeError{Code: "invalid_request", Description: "Unknown client_id: this app is not registered with the gateway."}
	}
	redirect := q.Get("redirect_uri")
	switch {
	case redirect == "" && len(app.RedirectURIs) == 1:
		redirect = app.RedirectURIs[0]
	case redirect == "":
		return nil, &AuthorizeError{Code: "invalid_request", Description: "Missing redirect_uri: the app has several registered."}
	case !slices.Contains(app.RedirectURIs, redirect):
		// RFC 9700 §4.1.3: exact string match, nothing else.
		return nil, &AuthorizeError{Code: "invalid_request", Description: "The redirect_uri does not match one registered for the app."}
	}
	state := q.Get("state")
	fail := func(code, desc string) (*Authorization, *AuthorizeError) {
		return nil, &AuthorizeError{Code: code, Description: desc, RedirectURI: redirect, State: state}
	}
	if len(state) > maxStateLen {
		return nil, &AuthorizeError{Code: "invalid_request", Description: "The state is too long."}
	}
	switch q.Get("response_type") {
	case "code":
	case "":
		return fail("invalid_request", "Missing response_type.")
	default:
		return fail("unsupported_response_type", "Only response_type=code is supported; use the authorization code flow with PKCE.")
	}
	scopes, e := s.scopes(app, q.Get("scope"))
	if e != "" {
		return fail("invalid_scope", e)
	}
	a := &Authorization{App: app, RedirectURI: redirect, State: state, Scopes: scopes,
		Challenge: q.Get("code_challenge"), Method: q.Get("code_challenge_method"), Prompt: q.Get("prompt")}
	if a.Prompt != "" && !slices.Contains(prompts, a.Prompt) {
		return fail("invalid_request", "Unsupported prompt: use none, consent, login or login consent.")
	}
	switch {
	case a.Challenge == "" && a.Method != "":
		return fail("invalid_request", "Missing code_challenge.")
	case a.Challenge == "" && app.Type != ServerApp:
		return fail("invalid_request", "Missing code_challenge: a client or personal app must use PKCE (RFC 7636).")
	case a.Challenge == "":
	case a.Method == "":
		// RFC 7636 §4.3: absent means plain. Fitbit's documents only
		// showed S256, which apps name explicitly.
		a.Method = Plain
		fallthrough
	default:
		if a.Method != S256 && a.Method != Plain {
			return fail("invalid_request", "Unsupported code_challenge_method: use S256.")
		}
		if !validVerifier(a.Challenge) {
			// A challenge has the verifier's syntax (43 characters for S256).
			return fail("invalid_request", "Invalid code_challenge.")
		}
	}
	return a, nil
}

// scopes parses a space-separated scope list (RFC 6749 §3.3; Fitbit also
// accepted it "+"-joined, which the query decoding already turned into
// spaces) and returns an error description when a scope is not the app's.
func (s *Server) scopes(app App, list string) ([]string, string) {
	var out []string
	for _, sc := range strings.Fields(list) {
		if !app.allows(sc) {
			return nil, "The scope " + sc + " is not a Fitbit scope this app may ask for."
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, "Missing scope."
	}
	return out, ""
}

// validVerifier checks RFC 7636 §4.1: 43–128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// verifierMatches checks a code_verifier against the stored challenge
// (RFC 7636 §4.6), in constant time.
func verifierMatches(method, challenge, verifier string) bool {
	if !validVerifier(verifier) {
		return false
	}
	got := verifier
	if method == S256 {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}
