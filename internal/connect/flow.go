// Package connect is the browser side of the gateway: the OAuth 2.0
// authorization-code flow with PKCE that binds a provider account to the
// caller's identity (authorize, callback), and the status and disconnect
// endpoints. It knows nothing of Caddy: the identity is handed in.
package connect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// DefaultPendingTTL is how long a started authorization may take.
const DefaultPendingTTL = 10 * time.Minute

// The cookie binding a started authorization to its browser. Its name and
// attributes follow the scheme of the registration's redirect URI, which is
// where the browser comes back to, not the scheme of the request that
// started the flow (behind a TLS-terminating proxy that request is plain
// http while the browser talks https).
//
// For an https redirect URI the cookie is __Host- prefixed (RFC 6265bis
// §4.1.3.2): Secure, Path=/, no Domain. A browser accepts such a cookie only
// from a secure origin of this exact host, so a sibling subdomain (cookie
// tossing) or a man in the middle of a plain-http request cannot plant one,
// and a planted binding would let the victim's consent land under the
// attacker's identity.
//
// For an http redirect URI (in practice http://localhost development) the
// cookie is plain and not Secure: user agents do not send Secure cookies
// over plain http to every host (Go's cookiejar never does, browsers only
// to some loopback names), so a Secure cookie would break the flow there.
const (
	SecureCookieName = "__Host-fitbit_connect"
	CookieName       = "fitbit_connect"
)

// Limits on callback parameters; real values are far shorter.
const (
	maxStateLen = 128
	maxCodeLen  = 1024
)

// Flow serves the connect endpoints of one or more provider registrations
// (an identity may connect to each: Fitbit and Google Health during the
// migration). Requests choose with ?provider=; Tokens is the default.
type Flow struct {
	Tokens *tokens.Manager
	// Others are further registrations by name (may be nil).
	Others     map[string]*tokens.Manager
	Store      Store
	Prefix     string // URL prefix of the endpoints, e.g. "/fitbit"
	ReturnTo   *ReturnTo
	PendingTTL time.Duration
	// MaxPending caps an identity's authorizations in flight, across
	// instances. Default: DefaultMaxPending.
	MaxPending int
	// Gate bounds authorize and callback per client IP and per identity.
	// Nil: no bound.
	Gate *ratelimit.Gate
	// ClientIP returns the client's address (in Caddy: the client_ip
	// variable, which honours trusted_proxies). Default: the peer address.
	ClientIP func(*http.Request) string
	// ConnectURLs names where users connect to a registration, for the
	// status endpoint: in Caddy the fitbit app's one answer, which the
	// proxy's errors quote too. Nil: this flow's own authorize endpoint.
	ConnectURLs func(name string) string
	// Resume, when set, names the path on this gateway where the browser
	// goes on after a connection that a front inside the gateway began
	// (Begin), such as the legacy OAuth 1.0a authorize step, which keeps
	// that path itself. It takes precedence over return_to; ok=false: none.
	// The callback may be served by another instance or handler than the
	// one that began, so Resume reads shared state, not memory.
	Resume func(ctx context.Context, identity string) (next string, ok bool)
	// ResumeDenied, when set, is Resume for a user who declined the
	// consent: the Fitbit OAuth 2.0 front tells its app access_denied.
	ResumeDenied func(ctx context.Context, identity string) (next string, ok bool)

	// Audit records connections and disconnections (nil: none).
	Audit audit.Recorder
	// Denied, when set, is told of each consent a user declined, by
	// registration (a metric).
	Denied func(provider string)

	Logger *zap.Logger
	Now    func() time.Time
}

func (f *Flow) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Flow) log() *zap.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return zap.NewNop()
}

// manager returns the registration a request names (?provider=), or the
// default one.
func (f *Flow) manager(r *http.Request) (*tokens.Manager, bool) {
	name := r.URL.Query().Get("provider")
	if name == "" || name == f.Tokens.Provider().Reg.Name {
		return f.Tokens, true
	}
	m, ok := f.Others[name]
	return m, ok
}

func (f *Flow) byName(name string) (*tokens.Manager, bool) {
	if name == f.Tokens.Provider().Reg.Name {
		return f.Tokens, true
	}
	m, ok := f.Others[name]
	return m, ok
}

// DefaultProvider names the registration this flow serves when a request
// names none.
func (f *Flow) DefaultProvider() string { return f.Tokens.Provider().Reg.Name }

// ConnectURLFor is where a user connects to the registration name.
func (f *Flow) ConnectURLFor(name string) string {
	if f.ConnectURLs != nil {
		return f.ConnectURLs(name)
	}
	return URL(f.Prefix+"/authorize", name, f.DefaultProvider())
}

// URL is the connect URL of registration name at authorize, the authorize
// endpoint (or the operator's connect page) whose default registration is
// def: the others are chosen with ?provider=.
func URL(authorize, name, def string) string {
	if name == "" || name == def {
		return authorize
	}
	sep := "?"
	if strings.Contains(authorize, "?") {
		sep = "&"
	}
	return authorize + sep + "provider=" + url.QueryEscape(name)
}

// admit checks a request to an endpoint that acts for identity: an allowed
// method, an identity, a known provider. It answers the request itself when
// one is missing.
func (f *Flow) admit(w http.ResponseWriter, r *http.Request, identity string, methods ...string) (*tokens.Manager, bool) {
	if !slices.Contains(methods, r.Method) {
		methodNotAllowed(w, methods[0])
		return nil, false
	}
	if identity == "" {
		f.unauthenticated(w)
		return nil, false
	}
	mgr, ok := f.manager(r)
	if !ok {
		f.unknownProvider(w)
	}
	return mgr, ok
}

func (f *Flow) unknownProvider(w http.ResponseWriter) {
	names := []string{f.Tokens.Provider().Reg.Name}
	for n := range f.Others {
		names = append(names, n)
	}
	sort.Strings(names)
	apierror.Write(w, http.StatusBadRequest, apierror.Item{ErrorType: apierror.InvalidRequest, FieldName: "provider",
		Message: "unknown provider; this gateway has: " + strings.Join(names, ", ")})
}

// Authorize starts a connection for identity: it stores the pending
// authorization (so the callback may land on any instance), binds it to the
// browser with a cookie, and redirects to the provider's consent page. A
// browser that has one in flight for identity is sent on with that one.
// GET is the connect URL apps send people to; POST is the connections
// page's connect button, whose form carries a CSRF token.
func (f *Flow) Authorize(w http.ResponseWriter, r *http.Request, identity string) {
	mgr, ok := f.admit(w, r, identity, http.MethodGet, http.MethodHead, http.MethodPost)
	if !ok || !f.admitRate(w, r, identity) {
		return
	}
	if r.Method == http.MethodPost && !f.admitForm(w, r, identity) {
		return
	}
	returnTo := r.URL.Query().Get("return_to")
	if returnTo != "" && !f.ReturnTo.Allowed(returnTo) {
		f.page(w, http.StatusBadRequest, "Not allowed", "The return_to address is not on this gateway's allow-list, so the gateway will not send you there. Ask the operator to add it to return_to_allowed.")
		return
	}
	f.start(w, r, mgr, identity, returnTo, provider.Consent{})
}

// Begin starts a connection of identity to the default provider for a
// caller inside the gateway (the legacy OAuth 1.0a and the OAuth 2.0
// authorize steps), with the consent asked (its scopes in the provider's
// names, nil: the registration's). Where the browser goes after the
// callback is the caller's to say, through the Resume of the flow that
// serves the callback.
func (f *Flow) Begin(w http.ResponseWriter, r *http.Request, identity string, consent provider.Consent) {
	if identity == "" {
		// A programming error in the caller, not a user's: fail closed.
		f.page(w, http.StatusInternalServerError, "Cannot connect", "The gateway could not start the connection.")
		return
	}
	f.start(w, r, f.Tokens, identity, "", consent)
}

func (f *Flow) start(w http.ResponseWriter, r *http.Request, mgr *tokens.Manager, identity, returnTo string, consent provider.Consent) {
	client := mgr.Provider()
	cookie := bindingCookie(client.Reg.RedirectURL, f.Prefix)
	binding := browserBinding(r, cookie.Name)
	state := randomToken()
	verifier := provider.NewVerifier()
	ttl := f.PendingTTL
	if ttl <= 0 {
		ttl = DefaultPendingTTL
	}
	p := &tokenstore.Pending{
		State:       state,
		Provider:    client.Reg.Name,
		Identity:    identity,
		Verifier:    verifier,
		ReturnTo:    returnTo,
		Scopes:      consent.Scopes,
		BrowserHash: hashHex(binding),
		RedirectURI: client.Reg.RedirectURL,
		Expires:     f.now().Add(ttl),
	}
	switch stored, err := f.pendingFor(r.Context(), p, ttl); {
	case err != nil:
		f.log().Error("could not store pending authorization", zap.Error(err))
		f.page(w, http.StatusServiceUnavailable, "Try again", "The gateway could not save the connection attempt. Please try again shortly.")
		return
	case !stored:
		f.log().Warn("too many pending authorizations", zap.String("identity_hash", tokenstore.IdentityHash(identity)), zap.Int("max_pending", f.maxPending()))
		w.Header().Set("Retry-After", ratelimit.RetryAfterHeader(ttl))
		f.page(w, http.StatusTooManyRequests, "Too many connection attempts", "This account has too many connection attempts in progress. Finish one, or wait a few minutes, then start again from the app.")
		return
	}
	state, verifier = p.State, p.Verifier // the browser's own, if it had one
	cookie.Value = binding
	cookie.MaxAge = int(ttl / time.Second)
	http.SetCookie(w, cookie)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the connect button's form: GET the consent page
	}
	consent.Scopes = p.Scopes
	http.Redirect(w, r, client.ConsentURL(state, verifier, consent), status)
}

// isLocalPath reports whether next is an absolute path on this host (not
// "//host" or "/\host", which browsers treat as another host).
func isLocalPath(next string) bool {
	return strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") && !strings.HasPrefix(next, "/\\")
}

// Callback completes a connection: one pending authorization, taken exactly
// once, from the browser that started it, traded for tokens that are stored
// under the identity that started it.
func (f *Flow) Callback(w http.ResponseWriter, r *http.Request, identity string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if !f.admitRate(w, r, identity) {
		return
	}
	q := r.URL.Query()
	state, code, oauthErr := q.Get("state"), q.Get("code"), q.Get("error")
	if state == "" || len(state) > maxStateLen || len(code) > maxCodeLen || len(q) > 16 {
		f.page(w, http.StatusBadRequest, "Invalid callback", "The callback is missing its state or carries malformed parameters. Start again from the app.")
		return
	}
	p, ok := f.takePending(w, r, state)
	if !ok {
		return
	}
	mgr, ok := f.checkCaller(w, r, p, identity)
	if !ok {
		return
	}
	title := mgr.Provider().Reg.Title()
	if oauthErr != "" {
		if oauthErr == "access_denied" {
			if f.Denied != nil {
				f.Denied(p.Provider)
			}
			if f.ResumeDenied != nil {
				if next, ok := f.ResumeDenied(r.Context(), p.Identity); ok && isLocalPath(next) {
					http.Redirect(w, r, next, http.StatusSeeOther)
					return
				}
			}
			f.page(w, http.StatusOK, "Not connected", "You did not allow access to "+title+", so nothing was connected. You can connect again from your connections page at any time.",
				f.attemptFacts(r.Context(), mgr, p)...)
			return
		}
		f.page(w, http.StatusBadGateway, title+" refused", title+" answered the authorization with an error: "+redact.Scrub(trim(oauthErr+" "+q.Get("error_description"), 200))+". Try again from your connections page.",
			f.attemptFacts(r.Context(), mgr, p)...)
		return
	}
	if code == "" {
		f.page(w, http.StatusBadRequest, "Invalid callback", "The callback carries neither a code nor an error. Start again from the app.")
		return
	}
	rec, ok := f.exchangeAndStore(w, r, mgr, p, code)
	if !ok {
		return
	}
	if f.Resume != nil {
		if next, ok := f.Resume(r.Context(), p.Identity); ok && isLocalPath(next) {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	if p.ReturnTo != "" && f.ReturnTo.Allowed(p.ReturnTo) {
		http.Redirect(w, r, p.ReturnTo, http.StatusSeeOther)
		return
	}
	f.connected(w, mgr, p, rec)
}

// connected is the result page of a connection: the account and what it
// allows, and, for a partial grant, what it does not.
func (f *Flow) connected(w http.ResponseWriter, mgr *tokens.Manager, p *tokenstore.Pending, rec *tokenstore.Record) {
	title := mgr.Provider().Reg.Title()
	facts := []htmlpage.Fact{
		{Label: "Provider", Value: title},
		{Label: "Account", Value: rec.UserID},
		{Label: "Allowed", Values: scopesInWords(rec.Scopes)},
	}
	missing := missingScopes(askedScopes(mgr, p), rec.Scopes)
	if len(missing) == 0 || len(rec.Scopes) == 0 { // a provider that names no scopes granted all
		f.page(w, http.StatusOK, "Connected", "Your "+title+" account is connected. You can close this window and return to the app.", facts...)
		return
	}
	facts = append(facts, htmlpage.Fact{Label: "Not allowed", Values: scopesInWords(missing)})
	f.page(w, http.StatusOK, "Connected, with fewer permissions", "Your "+title+" account is connected, but you did not allow everything the gateway asked for, "+
		"so apps cannot read what is listed under Not allowed. To allow it, reconnect from your connections page.", facts...)
}

// takePending takes the pending authorization of state out of the store,
// exactly once; it answers the request itself when there is none.
func (f *Flow) takePending(w http.ResponseWriter, r *http.Request, state string) (*tokenstore.Pending, bool) {
	p, err := f.Store.TakePending(r.Context(), state)
	switch {
	case errors.Is(err, tokenstore.ErrExpired):
		f.page(w, http.StatusBadRequest, "Expired", "This connection attempt took too long and expired. Start again from the app.")
		return nil, false
	case errors.Is(err, tokenstore.ErrNotFound):
		f.page(w, http.StatusBadRequest, "Unknown or used link", "This callback does not belong to a connection attempt in progress (it was already used, or never started here). Start again from the app.")
		return nil, false
	case err != nil:
		f.log().Error("could not read pending authorization", zap.Error(err))
		f.page(w, http.StatusServiceUnavailable, "Try again", "The gateway could not read the connection attempt. Please try again shortly.")
		return nil, false
	}
	f.finished(r.Context(), p)
	return p, true
}

// checkCaller admits the callback of p only from the browser that started
// it (its binding cookie), for a provider this gateway still has, and, when
// the caller is signed in, for the identity that started it. It returns that
// provider's manager, or answers the request itself.
func (f *Flow) checkCaller(w http.ResponseWriter, r *http.Request, p *tokenstore.Pending, identity string) (*tokens.Manager, bool) {
	// Only the cookie the redirect URI's scheme implies: under https a
	// plain fitbit_connect cookie may have been planted, and is ignored.
	redirectURI := p.RedirectURI
	if redirectURI == "" {
		if m, ok := f.byName(p.Provider); ok {
			redirectURI = m.Provider().Reg.RedirectURL
		}
	}
	c, _ := r.Cookie(bindingCookie(redirectURI, f.Prefix).Name)
	if c == nil || subtle.ConstantTimeCompare([]byte(hashHex(c.Value)), []byte(p.BrowserHash)) != 1 {
		f.page(w, http.StatusForbidden, "Wrong browser", "This connection was started in another browser (or its cookie was blocked). Start again from the app in this browser.")
		return nil, false
	}
	mgr, ok := f.byName(p.Provider)
	if !ok {
		f.page(w, http.StatusBadRequest, "Unknown provider", "This connection attempt was for a provider this gateway no longer has. Start again from the app.")
		return nil, false
	}
	if identity != "" && subtle.ConstantTimeCompare([]byte(identity), []byte(p.Identity)) != 1 {
		f.page(w, http.StatusForbidden, "Different account", "You are signed in to the gateway as someone other than the person who started this connection. Start again from the app.")
		return nil, false
	}
	return mgr, true
}

// exchangeAndStore trades code for tokens and stores them as p's identity's
// connection; it answers the request itself when either fails.
func (f *Flow) exchangeAndStore(w http.ResponseWriter, r *http.Request, mgr *tokens.Manager, p *tokenstore.Pending, code string) (*tokenstore.Record, bool) {
	title := mgr.Provider().Reg.Title()
	grant, err := mgr.Provider().Exchange(r.Context(), code, p.Verifier)
	if err != nil {
		f.log().Warn("code exchange failed", zap.String("identity_hash", tokenstore.IdentityHash(p.Identity)), zap.Error(err))
		status := http.StatusBadGateway
		if provider.IsInvalidGrant(err) {
			status = http.StatusBadRequest
		}
		f.page(w, status, "Could not connect", title+" did not accept the authorization ("+err.Error()+"). Start again from your connections page.",
			f.attemptFacts(r.Context(), mgr, p)...)
		return nil, false
	}
	rec := &tokenstore.Record{
		Provider:     p.Provider,
		IdentityHash: tokenstore.IdentityHash(p.Identity),
		UserID:       grant.UserID,
		Scopes:       grant.Scopes,
		AccessToken:  grant.AccessToken,
		RefreshToken: grant.RefreshToken,
		TokenType:    grant.TokenType,
		Expiry:       grant.Expiry,
		Status:       tokenstore.StatusOK,
		ConnectedAt:  f.now(),
		Extra:        grant.Extra,
	}
	if err := mgr.Connect(r.Context(), p.Identity, rec); err != nil {
		f.log().Error("could not store new connection", zap.String("identity_hash", rec.IdentityHash), zap.Error(err))
		f.page(w, http.StatusServiceUnavailable, "Try again", title+" accepted, but the gateway could not store the connection. Start again from the app.")
		return nil, false
	}
	f.log().Info("connected", zap.String("provider", p.Provider), zap.String("identity_hash", rec.IdentityHash),
		zap.String("user_id", rec.UserID), zap.Strings("scopes", rec.Scopes))
	f.Audit.Record(r, audit.Entry{Action: audit.Connect, Provider: p.Provider, IdentityHash: rec.IdentityHash, UserID: rec.UserID})
	return rec, true
}

// Health is the state of a connection as the status endpoint reports it:
// the stored status, unless the provider is gone or the record cannot be
// read.
type Health string

const (
	// HealthOK: the tokens are believed usable (tokenstore.StatusOK).
	HealthOK Health = "ok"
	// HealthNeedsReauth: the provider refused the refresh token; the user
	// must connect again (tokenstore.StatusNeedsReauth).
	HealthNeedsReauth Health = "needs_reauth"
	// HealthProviderGone: the provider answered 410 Gone; it has turned its
	// API off.
	HealthProviderGone Health = "provider_gone"
	// HealthUnreadable: the stored record cannot be opened (its key left
	// the keyring, or it was altered): connecting again replaces it,
	// disconnecting deletes it.
	HealthUnreadable Health = "record_unreadable"
)

// healthOf is the health of a connection stored with status s.
func healthOf(s tokenstore.Status) Health {
	switch s {
	case tokenstore.StatusOK:
		return HealthOK
	case tokenstore.StatusNeedsReauth:
		return HealthNeedsReauth
	}
	return Health(s) // a status this version does not name is reported as stored
}

// Status is what the gateway knows of identity's connection to one
// provider. It never holds a token.
type Status struct {
	Provider    string            `json:"provider"`
	Connected   bool              `json:"connected"`
	UserID      string            `json:"user_id,omitempty"`
	Extra       map[string]string `json:"ids,omitempty"` // other ids (Google: legacy_user_id)
	Scopes      []string          `json:"scopes,omitempty"`
	ExpiresAt   *time.Time        `json:"access_token_expires_at,omitempty"`
	Health      Health            `json:"health,omitempty"`
	ConnectedAt *time.Time        `json:"connected_at,omitempty"`
	RefreshedAt *time.Time        `json:"refreshed_at,omitempty"`
	GoneSince   *time.Time        `json:"provider_gone_since,omitempty"`
	ConnectURL  string            `json:"connect_url"`
	// Providers has the status at every provider, when the gateway has
	// several (on the default provider's status only).
	Providers map[string]*Status `json:"providers,omitempty"`
}

// Status answers the calling identity's connection state as JSON: the
// default provider's (or ?provider='s), with every provider's under
// "providers" when there are several.
func (f *Flow) Status(w http.ResponseWriter, r *http.Request, identity string) {
	mgr, ok := f.admit(w, r, identity, http.MethodGet, http.MethodHead)
	if !ok {
		return
	}
	st, err := f.status(r.Context(), mgr, identity)
	if err != nil {
		f.log().Error("status: store read failed", zap.Error(err))
		apierror.Write(w, http.StatusServiceUnavailable, apierror.Item{ErrorType: apierror.ConnectionStoreFailure, Message: "the gateway's token store is unavailable; retry shortly"})
		return
	}
	if len(f.Others) > 0 && r.URL.Query().Get("provider") == "" {
		st.Providers = map[string]*Status{st.Provider: {Provider: st.Provider, Connected: st.Connected, UserID: st.UserID, Extra: st.Extra,
			Scopes: st.Scopes, ExpiresAt: st.ExpiresAt, Health: st.Health, ConnectedAt: st.ConnectedAt, RefreshedAt: st.RefreshedAt,
			GoneSince: st.GoneSince, ConnectURL: st.ConnectURL}}
		for _, m := range f.Others {
			o, err := f.status(r.Context(), m, identity)
			if err != nil {
				f.log().Error("status: store read failed", zap.Error(err))
				apierror.Write(w, http.StatusServiceUnavailable, apierror.Item{ErrorType: apierror.ConnectionStoreFailure, Message: "the gateway's token store is unavailable; retry shortly"})
				return
			}
			st.Providers[o.Provider] = o
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (f *Flow) status(ctx context.Context, mgr *tokens.Manager, identity string) (*Status, error) {
	name := mgr.Provider().Reg.Name
	st := &Status{Provider: name, ConnectURL: f.ConnectURLFor(name), GoneSince: timePtr(mgr.Provider().Gone.Since())}
	rec, err := mgr.Lookup(ctx, identity)
	switch {
	case errors.Is(err, tokens.ErrNotConnected):
	case errors.Is(err, tokenstore.ErrUnreadable):
		// Stored, but unusable until the user connects again.
		st.Health = HealthUnreadable
	case err != nil:
		return nil, err
	default:
		st.Connected = true
		st.UserID, st.Scopes, st.Health, st.Extra = rec.UserID, rec.Scopes, healthOf(rec.Status), rec.Extra
		st.ExpiresAt, st.ConnectedAt = timePtr(rec.Expiry), timePtr(rec.ConnectedAt)
		st.RefreshedAt = timePtr(rec.RefreshedAt)
	}
	if st.GoneSince != nil && st.Health != HealthUnreadable {
		st.Health = HealthProviderGone
	}
	return st, nil
}

// Disconnection is the answer of a disconnect. The local deletion and the
// revocation at the provider are reported apart: the first always happens,
// the second depends on a provider that may be gone or down.
type Disconnection struct {
	Provider     string `json:"provider"`
	Disconnected bool   `json:"disconnected"` // nothing of the connection is stored any more
	WasConnected bool   `json:"was_connected"`
	// Revoked: the provider confirmed it revoked the tokens. Absent when
	// there was no connection.
	Revoked *bool `json:"revoked,omitempty"`
	// RevokeError says why not: provider_gone, rejected, unavailable or
	// record_unreadable, with a human message (never a token).
	RevokeError *RevokeError `json:"revoke_error,omitempty"`
}

// RevokeError is why a disconnect did not revoke the tokens at the provider.
type RevokeError struct {
	Reason  tokens.RevokeReason `json:"reason"`
	Message string              `json:"message"`
	// RetryQueued: the gateway keeps trying in the background.
	RetryQueued bool `json:"retry_queued"`
}

// Disconnect deletes identity's connection and revokes it at the provider.
// It answers 200 once the connection is deleted, whatever the provider said
// (see Disconnection), and 503 only when the store could not delete it.
//
// The connections page's disconnect button posts a form with a CSRF token
// and is answered with a page; so is any browser that asks for HTML.
func (f *Flow) Disconnect(w http.ResponseWriter, r *http.Request, identity string) {
	if r.Method == http.MethodPost && prefersHTML(r) {
		f.disconnectPage(w, r, identity)
		return
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		apierror.Write(w, http.StatusForbidden, apierror.Item{ErrorType: apierror.InvalidRequest, Message: "cross-site disconnect refused: POST from the gateway's own origin or without an Origin header"})
		return
	}
	mgr, ok := f.admit(w, r, identity, http.MethodPost)
	if !ok {
		return
	}
	d, err := f.disconnect(r, mgr, identity)
	if err != nil {
		apierror.Write(w, http.StatusServiceUnavailable, apierror.Item{ErrorType: apierror.ConnectionStoreFailure, Message: "the gateway's token store is unavailable, so the connection is not deleted yet; retry shortly"})
		return
	}
	ans := Disconnection{Provider: mgr.Provider().Reg.Name, Disconnected: true, WasConnected: d.Existed}
	if d.Existed {
		ans.Revoked = &d.Revoked
		if d.Reason != "" {
			ans.RevokeError = &RevokeError{Reason: d.Reason, Message: redact.Scrub(d.Message), RetryQueued: d.RetryQueued}
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

func (f *Flow) unauthenticated(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", apierror.Challenge(""))
	apierror.Write(w, http.StatusUnauthorized, apierror.Item{ErrorType: apierror.Unauthenticated,
		Message: "the gateway could not identify you; authenticate to the gateway first"})
}

// sameOrigin refuses cross-site POSTs (CSRF) when the browser says where the
// request comes from. Non-browser clients send neither header.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// bindingCookie is the binding cookie, without value and lifetime, for a
// registration whose redirect URI is redirectURI.
func bindingCookie(redirectURI, prefix string) *http.Cookie {
	if u, err := url.Parse(redirectURI); err == nil && strings.EqualFold(u.Scheme, "https") {
		return &http.Cookie{Name: SecureCookieName, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	}
	return &http.Cookie{Name: CookieName, Path: prefix + "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// browserBinding reuses the browser's binding cookie (named name) when it
// has a valid one, so several connection attempts can run in one browser at
// once.
func browserBinding(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil && len(c.Value) == 43 {
		if _, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			return c.Value
		}
	}
	return randomToken()
}

// randomToken returns 256 random bits, base64url (43 characters).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	apierror.Write(w, http.StatusMethodNotAllowed, apierror.Item{ErrorType: apierror.InvalidRequest, Message: "use " + allow})
}
