// Package legacy lets apps written for Fitbit's OAuth 1.0a (removed by Fitbit
// in 2016) run unchanged against the gateway: it speaks OAuth 1.0a to the app
// — temporary credentials, the authorize redirect, token credentials, and
// RFC 5849-signed API calls — while the user's Fitbit account is connected
// through the gateway's OAuth 2.0 + PKCE flow.
//
// Each OAuth 1.0a authorization gets a synthetic gateway identity, created
// with its request token. The authorize step connects that identity through
// the ordinary connect flow; the access token then stands for the identity,
// so a verified signed call becomes an ordinary gateway call of that identity
// (the transport injects the Bearer token, refreshes, replays).
//
// Request tokens, access tokens and nonces live in the token store's entries
// (sealed; ids only as hashes), so any instance of a cluster can serve any
// step, a request token is redeemed once, and a nonce is accepted once.
package legacy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Defaults of Server's settings.
const (
	DefaultTimestampSkew   = 5 * time.Minute
	DefaultRequestTokenTTL = 10 * time.Minute
	DefaultMaxBody         = 1 << 20
	// accessCacheSize and accessCacheTTL bound the in-memory copy of access
	// tokens: a token deleted from the store stops working within the TTL.
	accessCacheSize = 10000
	accessCacheTTL  = time.Minute
)

// Entry kinds in the token store.
const (
	kindRequest = "oauth1_request"
	kindAccess  = "oauth1_access"
	kindNonce   = "oauth1_nonce"
)

// Limits on parameters, far above what real clients send.
const (
	maxTokenLen    = 256
	maxCallbackLen = 2048
)

// Consumer is an OAuth 1.0a client (an app) registered with the gateway, as
// it was registered with Fitbit.
type Consumer struct {
	Key    string
	Secret string
	// Callback is used when a request-token request names no oauth_callback
	// (OAuth 1.0 clients, before 1.0a, did not). Empty: out of band.
	Callback string
}

// Connector is the gateway's OAuth 2.0 side as the legacy flow needs it.
type Connector interface {
	// Begin starts connecting identity in the browser. After the
	// provider's consent the connect flow's Resume (see Resume in this
	// package) sends the browser back to the authorize step.
	Begin(w http.ResponseWriter, r *http.Request, identity string)
	// UserID returns the provider user id of identity's connection, or an
	// error wrapping ErrNotConnected.
	UserID(ctx context.Context, identity string) (string, error)
}

// ErrNotConnected is what a Connector's UserID wraps when identity has no
// connection.
var ErrNotConnected = errors.New("legacy: not connected")

// Server serves the OAuth 1.0a endpoints and authenticates signed calls.
// Set its fields, then call Init before use.
type Server struct {
	Consumers map[string]Consumer // by key
	Entries   tokenstore.Entries
	Connector Connector
	// Prefix of the endpoints: <Prefix>/request_token, /authorize (and its
	// alias /authenticate), /access_token. Default "/oauth".
	Prefix string
	// PublicURL, if set, is the scheme and host apps sign against, for a
	// gateway behind a proxy that terminates TLS or rewrites Host.
	PublicURL *url.URL
	// TimestampSkew is how far oauth_timestamp may be from now, either way.
	TimestampSkew time.Duration
	// RequestTokenTTL is how long a request token may wait for its exchange.
	RequestTokenTTL time.Duration
	// MaxBody bounds a form body read for its signed parameters.
	MaxBody int64
	Logger  *zap.Logger
	Now     func() time.Time
	// Observe, if set, is told the outcome of every token-endpoint call and
	// signed call (see observe).
	Observe func(endpoint, result string)
	// BrowserGate bounds the authorize step per client IP and per request
	// token (its identity); TokenGate bounds request_token and access_token
	// per client IP and per identity. Nil: no bound.
	BrowserGate, TokenGate *ratelimit.Gate
	// Failures bound failed signatures and verifiers per consumer and token.
	Failures FailureLimits
	// ClientIP returns the client's address (in Caddy: the client_ip
	// variable, which honours trusted_proxies). Default: the peer address.
	ClientIP func(*http.Request) string

	// access caches access tokens read from the store. (Not golang-lru's
	// expirable LRU: each of those runs a goroutine that never stops, one
	// per config reload.)
	access   *lru.Cache[string, cachedAccess]
	failures *failureGuard
}

// cachedAccess is an access token and when it was read from the store.
type cachedAccess struct {
	token *accessToken
	read  time.Time
}

// Init fills in defaults. Call it once, before serving.
func (s *Server) Init() {
	if s.Prefix == "" {
		s.Prefix = "/oauth"
	}
	if s.TimestampSkew <= 0 {
		s.TimestampSkew = DefaultTimestampSkew
	}
	if s.RequestTokenTTL <= 0 {
		s.RequestTokenTTL = DefaultRequestTokenTTL
	}
	if s.MaxBody <= 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.Logger == nil {
		s.Logger = zap.NewNop()
	}
	s.access, _ = lru.New[string, cachedAccess](accessCacheSize) // errs only for a size <= 0
	s.failures = newFailureGuard(s.Failures, s.Logger)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Realm is the WWW-Authenticate realm of 401 answers: the site apps sign against.
func (s *Server) Realm(r *http.Request) string {
	if s.PublicURL != nil {
		return s.PublicURL.Scheme + "://" + s.PublicURL.Host + "/"
	}
	return scheme(r) + "://" + r.Host + "/"
}

// ServeEndpoint answers r if it is one of the OAuth 1.0a endpoints and says
// whether it was.
func (s *Server) ServeEndpoint(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case s.Prefix + "/request_token":
		s.finish(w, r, "request_token", s.requestToken(w, r))
	case s.Prefix + "/authorize", s.Prefix + "/authenticate":
		// Fitbit also had /oauth/authenticate ("Sign in with Fitbit"),
		// which some client libraries used; here it is the same step.
		s.authorize(w, r)
	case s.Prefix + "/access_token":
		s.finish(w, r, "access_token", s.accessToken(w, r))
	default:
		return false
	}
	return true
}

// finish answers a token endpoint's error, if any, and counts the outcome.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, endpoint string, e *Error) {
	if e != nil {
		e.Write(w, s.Realm(r))
	}
	s.observe(endpoint, e)
}

// observe reports the outcome of a token endpoint or a signed call: "ok",
// or the error's fieldName ("oauth_signature", "oauth_nonce", …), or
// "store_unavailable" — a small, fixed set of values, fit for a metric label.
func (s *Server) observe(endpoint string, e *Error) {
	if s.Observe == nil {
		return
	}
	switch {
	case e == nil:
		s.Observe(endpoint, "ok")
	case e == errStore:
		s.Observe(endpoint, "store_unavailable")
	case e.Status == http.StatusMethodNotAllowed:
		s.Observe(endpoint, "method_not_allowed")
	case e.Status == http.StatusTooManyRequests:
		s.Observe(endpoint, "rate_limited")
	default:
		s.Observe(endpoint, e.FieldName)
	}
}

// secure reports whether the app reached the gateway over TLS.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || s.PublicURL != nil && s.PublicURL.Scheme == "https"
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// signedURL is the URL the app signed: its scheme and host (PublicURL's, or
// the request's), and the request path.
func (s *Server) signedURL(r *http.Request) *url.URL {
	u := &url.URL{Scheme: scheme(r), Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
	if s.PublicURL != nil {
		u.Scheme, u.Host = s.PublicURL.Scheme, s.PublicURL.Host
	}
	return u
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// formResponse writes the form-encoded answer of a token endpoint.
func formResponse(w http.ResponseWriter, v url.Values) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_, _ = w.Write([]byte(v.Encode()))
}

// errStore answers a request the store could not serve.
var errStore = &Error{Status: http.StatusServiceUnavailable, FieldName: fieldNone,
	Message: "the gateway's token store is unavailable; retry shortly"}

// Purge deletes expired request tokens and nonce records (stores whose
// entries expire on their own have none to delete). Access tokens do not
// expire, as they did not at Fitbit.
func Purge(ctx context.Context, entries tokenstore.Entries, now time.Time) {
	for _, kind := range []string{kindRequest, kindNonce, kindClaim, kindRevealed, kindResume} {
		_, _ = entries.PurgeExpiredEntries(ctx, kind, now)
	}
}
