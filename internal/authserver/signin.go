package authserver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Connector is the gateway's upstream OAuth 2.0 side (the connect flow to
// the google_health registration) as the authorize step needs it.
type Connector interface {
	// Begin sends the browser to connect identity upstream, through the
	// consent (scopes in the upstream's names, see ConsentScopes; Login
	// for an app's prompt=login). After
	// the consent, the connect flow's callback asks Resume (or, on a
	// denial, ResumeDenied) in this package where the browser goes back to.
	Begin(w http.ResponseWriter, r *http.Request, app App, identity string, consent provider.Consent)
	// ConsentScopes are the upstream scopes a sign-in of app asking for
	// the Fitbit scopes asked needs (for google_health: their Google
	// Health scopes plus settings, see provider.Client.ConsentScopes).
	ConsentScopes(app App, asked []string) []string
	// Connection returns identity's upstream connection, or an error
	// wrapping ErrNotConnected.
	Connection(ctx context.Context, app App, identity string) (Connection, error)
}

// Connection is what the authorize step needs of an upstream connection.
type Connection struct {
	// UserID is the app's Fitbit user id (Google's legacyUserId, see README).
	UserID string
	// Scopes the upstream granted, in its own names (Google Health scope
	// URLs, or Fitbit's); nil when it did not say.
	Scopes []string
}

// granted is the part of the Fitbit scopes asked for that the upstream
// granted (the user may grant only some, as at Fitbit): a Fitbit scope is
// granted as itself or as the Google Health scope it maps to.
func (c Connection) granted(asked []string) []string {
	if c.Scopes == nil {
		return asked
	}
	var out []string
	for _, s := range asked {
		if slices.Contains(c.Scopes, s) || slices.Contains(c.Scopes, provider.GoogleScopes([]string{s})[0]) {
			out = append(out, s)
		}
	}
	return out
}

// lacks returns the scopes of want (the upstream's names) that c was not
// granted; none when the upstream did not say.
func (c Connection) lacks(want []string) []string {
	if c.Scopes == nil {
		return nil
	}
	var out []string
	for _, s := range want {
		if !slices.Contains(c.Scopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// ErrNotConnected is what a Connector's UserID wraps when identity has no
// connection.
var ErrNotConnected = errors.New("authserver: not connected")

// Entry kinds of the authorize step waiting for the upstream consent.
const (
	kindWaiting = "oauth2_waiting" // resume id → the authorization
	kindResume  = "oauth2_resume"  // identity → the path the browser resumes at
)

// IdentityPrefix marks the identities the authorize step makes: one per
// authorization, so the identity alone names the step to resume.
const IdentityPrefix = "oauth2:"

// waiting is an authorize request waiting for the upstream consent.
type waiting struct {
	Authorization
	RedirectGiven bool   `json:"redirect_given"`
	Identity      string `json:"identity"`
	// BrowserHash is the SHA-256 of the binding cookie of the browser that
	// began: only it may finish (see binding).
	BrowserHash string `json:"browser"`
}

// Authorize serves GET /oauth2/authorize: it checks the request, sends the
// browser through the upstream consent for a new gateway identity (or for
// identity, when Caddy already authenticated the request and it is
// connected and the app did not ask to prompt), and finally back to the
// app's redirect URI with a code, or with error=access_denied.
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request, identity string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.observe("", "authorize", "method_not_allowed")
		htmlpage.Write(w, http.StatusMethodNotAllowed, "Method not allowed", "Open this page with GET.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if d := s.BrowserGate.Admit(r.Context(), s.clientIP(r), ""); !d.Allowed {
		w.Header().Set("Retry-After", ratelimit.RetryAfterHeader(d.RetryAfter))
		s.observe("", "authorize", "rate_limited")
		htmlpage.Write(w, http.StatusTooManyRequests, "Too many requests", "Too many sign-ins from this address. Wait a little, then start again from the app.")
		return
	}
	q := r.URL.Query()
	if id := q.Get("resume"); id != "" && (len(q) == 1 || len(q) == 2 && q.Get("denied") == "1") {
		s.resume(w, r, id, q.Get("denied") == "1")
		return
	}
	a, e := s.ParseAuthorize(q)
	if e != nil {
		client := ""
		if _, known := s.Apps[q.Get("client_id")]; known {
			client = q.Get("client_id")
		}
		s.refuse(w, r, client, e)
		return
	}
	if r.Method == http.MethodHead {
		return // link checkers and previews start nothing
	}
	w8 := &waiting{Authorization: *a, RedirectGiven: q.Get("redirect_uri") != "", Identity: identity}
	// prompt=none: an answer without any interaction, or
	// interaction_required (OpenID Connect Core §3.1.2.6, which Fitbit's
	// prompt followed); only a connected identity Caddy authenticated can
	// be answered so, since every other sign-in is a new identity.
	scopes := s.Connector.ConsentScopes(a.App, a.Scopes)
	if len(scopes) == 0 {
		// The registration allows none of them: a consent for nothing
		// would only end on the upstream's error page.
		s.refuse(w, r, a.App.ID, &AuthorizeError{Code: "invalid_scope", Description: "None of the scopes asked for is available from the gateway's upstream registration.",
			RedirectURI: a.RedirectURI, State: a.State})
		return
	}
	if identity != "" && (a.Prompt == "" || a.Prompt == "none") {
		switch conn, err := s.Connector.Connection(r.Context(), a.App, identity); {
		case err == nil && conn.lacks(scopes) == nil:
			s.finish(w, r, w8, conn)
			return
		case err == nil && a.Prompt == "":
			// Connected with fewer scopes than this sign-in needs: a
			// consent for the union rather than a token lacking them
			// (incremental authorization,
			// https://developers.google.com/identity/protocols/oauth2/web-server#incrementalAuth).
			for _, sc := range conn.Scopes {
				if !slices.Contains(scopes, sc) {
					scopes = append(scopes, sc)
				}
			}
		case err == nil:
			// prompt=none cannot ask: answer with what was granted.
			s.finish(w, r, w8, conn)
			return
		case !errors.Is(err, ErrNotConnected):
			s.Logger.Error("could not read the connection of an OAuth 2.0 sign-in", zap.Error(err))
			s.unavailable(w, a.App.ID)
			return
		}
	}
	if a.Prompt == "none" {
		s.refuse(w, r, a.App.ID, &AuthorizeError{Code: "interaction_required", Description: "The user must sign in and consent.",
			RedirectURI: a.RedirectURI, State: a.State})
		return
	}
	if w8.Identity == "" {
		w8.Identity = IdentityPrefix + randomHex(16)
	}
	w8.BrowserHash = s.bind(w, r)
	id := randomHex(16)
	b, _ := json.Marshal(w8)
	until := s.now().Add(s.CodeTTL)
	err := s.Entries.PutEntry(r.Context(), kindWaiting, id, b, until)
	if err == nil {
		err = s.Entries.PutEntry(r.Context(), kindResume, w8.Identity, []byte("/oauth2/authorize?resume="+id), until)
	}
	if err != nil {
		s.Logger.Error("could not store an OAuth 2.0 sign-in", zap.Error(err))
		s.unavailable(w, a.App.ID)
		return
	}
	s.observe(a.App.ID, "authorize", "consent")
	s.Connector.Begin(w, r, w8.App, w8.Identity, provider.Consent{Scopes: scopes, Login: strings.Contains(a.Prompt, "login")})
}

// Resume returns the authorize step the browser connecting identity goes
// back to after the upstream consent, once; the callback may be served by
// another handler or instance than the one that began, so it is kept in
// the shared store (as the OAuth 1.0a front does).
func Resume(ctx context.Context, entries Entries, identity string) (next string, ok bool) {
	b, err := entries.TakeEntry(ctx, kindResume, identity)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// resume finishes an authorization once the upstream consent is done: the
// identity connected gets a code, a denial error=access_denied. The resume
// id is single-use, and only the browser that the connect flow's binding
// cookie accepted at the callback is sent to it.
func (s *Server) resume(w http.ResponseWriter, r *http.Request, id string, denied bool) {
	var w8 waiting
	switch err := s.get(r.Context(), kindWaiting, id, &w8); {
	case errors.Is(err, tokenstore.ErrNotFound):
		s.observe("", "authorize", "unknown_sign_in")
		htmlpage.Write(w, http.StatusBadRequest, "Unknown or expired sign-in",
			"This sign-in is unknown, was already finished, or is older than ten minutes. Start again from the app.")
		return
	case err != nil:
		s.Logger.Error("could not read an OAuth 2.0 sign-in", zap.Error(err))
		s.unavailable(w, "")
		return
	}
	if subtle.ConstantTimeCompare([]byte(browserHash(r)), []byte(w8.BrowserHash)) != 1 {
		s.Logger.Warn("oauth2 sign-in resumed in another browser; refused", zap.String("client", w8.App.ID))
		s.observe(w8.App.ID, "authorize", "other_browser")
		htmlpage.Write(w, http.StatusForbidden, "Opened in another browser",
			"This sign-in was started in another browser, and only that browser can finish it. Start again from the app. Nothing was shared.")
		return
	}
	if _, err := s.Entries.TakeEntry(r.Context(), kindWaiting, id); err != nil {
		s.observe(w8.App.ID, "authorize", "unknown_sign_in")
		htmlpage.Write(w, http.StatusBadRequest, "Already finished", "This sign-in was already finished. Start again from the app if it did not complete.")
		return
	}
	if denied {
		s.refuse(w, r, w8.App.ID, w8.Denied())
		return
	}
	conn, err := s.Connector.Connection(r.Context(), w8.App, w8.Identity)
	switch {
	case errors.Is(err, ErrNotConnected):
		s.refuse(w, r, w8.App.ID, w8.Denied())
	case err != nil:
		s.Logger.Error("could not read the connection of an OAuth 2.0 sign-in", zap.Error(err))
		s.unavailable(w, w8.App.ID)
	default:
		s.finish(w, r, &w8, conn)
	}
}

// finish issues the code for the scopes granted and sends the browser back
// to the app; with none of them granted, the app is told access_denied.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, w8 *waiting, conn Connection) {
	if w8.Scopes = conn.granted(w8.Scopes); len(w8.Scopes) == 0 {
		s.refuse(w, r, w8.App.ID, w8.Denied())
		return
	}
	code, err := s.IssueCode(r.Context(), &w8.Authorization, w8.RedirectGiven, w8.Identity, conn.UserID)
	if err != nil {
		s.Logger.Error("could not store an OAuth 2.0 code", zap.Error(err))
		s.unavailable(w, w8.App.ID)
		return
	}
	s.observe(w8.App.ID, "authorize", "ok")
	s.Logger.Info("oauth2 code issued", zap.String("client", w8.App.ID),
		zap.String("identity_hash", tokenstore.IdentityHash(w8.Identity)))
	http.Redirect(w, r, w8.CodeRedirect(code), http.StatusFound)
}

// refuse sends the browser back to the app with e, or shows e when the
// redirect URI could not be trusted.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, client string, e *AuthorizeError) {
	s.observe(client, "authorize", e.Code)
	if back := e.Redirect(); back != "" {
		http.Redirect(w, r, back, http.StatusFound)
		return
	}
	htmlpage.Write(w, http.StatusBadRequest, "Invalid sign-in request",
		"The app's sign-in request was refused: "+strings.TrimSuffix(e.Description, ".")+". Nothing was shared. Contact the app's developer.")
}

func (s *Server) unavailable(w http.ResponseWriter, client string) {
	s.observe(client, "authorize", "store_unavailable")
	htmlpage.Write(w, http.StatusServiceUnavailable, "Try again", "The gateway could not save the sign-in. Please try again shortly.")
}

// ResumeDenied is Resume for a consent the user declined: the step then
// tells the app error=access_denied, as Fitbit did, even for an identity
// connected before (prompt=consent).
func ResumeDenied(ctx context.Context, entries Entries, identity string) (next string, ok bool) {
	if next, ok = Resume(ctx, entries, identity); ok {
		next += "&denied=1"
	}
	return next, ok
}

// the App of a waiting authorization is stored with its secret: drop it.
func (w waiting) MarshalJSON() ([]byte, error) {
	type plain waiting
	w.App.Secret = ""
	return json.Marshal(plain(w))
}
