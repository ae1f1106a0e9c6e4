// Package authserver is the gateway as Fitbit's OAuth 2.0 authorization
// server, for apps written against it: the apps it knows, the authorize
// request, single-use codes, the token endpoint with refresh-token rotation
// and Fitbit's grace window, revocation (RFC 7009), introspection (RFC 7662
// in Fitbit's shape) and the Bearer tokens of API calls. It knows nothing of
// Caddy or of the upstream consent: the front (module/oauth2.go) sends the
// browser through the connect flow and then calls IssueCode.
//
// Every token and code it issues is kept only in the token store's entries,
// whose ids are stored as SHA-256 hashes and whose values are sealed; no
// token, code or secret is ever logged or put into an error message.
package authserver

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// Defaults of Server's settings.
const (
	// DefaultAccessTTL is Fitbit's access token lifetime: 8 hours.
	DefaultAccessTTL = 28800 * time.Second
	// DefaultCodeTTL is how long a code may wait for its exchange, as at
	// Fitbit (and RFC 6749 §4.1.2's "maximum of 10 minutes").
	DefaultCodeTTL = 10 * time.Minute
	// DefaultGraceWindow is Fitbit's: identical refresh requests within
	// two minutes get the same answer
	// (https://dev.fitbit.com/build/reference/web-api/authorization/refresh-token/).
	DefaultGraceWindow = 2 * time.Minute
	// expiredRetention is how long an access token is remembered after it
	// expires, to answer expired_token (the app refreshes) rather than
	// invalid_token (the app signs its user in again).
	expiredRetention = 30 * 24 * time.Hour
	// rotatedRetention is how long a rotated refresh token is remembered,
	// so that its reuse revokes the grant; later it is merely unknown.
	rotatedRetention = 180 * 24 * time.Hour
	// maxBody bounds a token, revoke or introspect request's form.
	maxBody = 64 << 10
)

// Entries are the token store's entries as this package uses them
// (tokenstore.Entries has them all).
type Entries interface {
	PutEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (bool, error)
	GetEntry(ctx context.Context, kind, id string) ([]byte, error)
	TakeEntry(ctx context.Context, kind, id string) ([]byte, error)
	DeleteEntry(ctx context.Context, kind, id string) error
}

// Server is the authorization server. Set its fields, then call Init.
type Server struct {
	Apps    map[string]App // by client id
	Entries Entries
	// AccessTTL is the lifetime of access tokens (default 8 hours); an
	// app may ask for one hour with expires_in=3600, as at Fitbit.
	AccessTTL   time.Duration
	CodeTTL     time.Duration
	GraceWindow time.Duration
	// Connector sends the browser through the upstream consent.
	Connector Connector
	// BrowserGate bounds the authorize step per client IP; TokenGate the
	// token, revoke and introspect endpoints per client IP and the token
	// endpoint per client id. Nil: no bound.
	BrowserGate, TokenGate *ratelimit.Gate
	// ClientIP returns the caller's address (in Caddy: client_ip).
	ClientIP func(*http.Request) string
	// Observe, if set, is told the outcome of every request to the front:
	// the client id ("" before the app is known and authenticated), the endpoint (authorize,
	// token, revoke, introspect, api) and the result ("ok", "consent" for
	// an authorize step sent to the upstream consent, else the error code
	// or type, "rate_limited", "store_unavailable", "method_not_allowed").
	// It is called on every API call: it must be cheap.
	Observe func(client, endpoint, result string)
	// Audit records revocations (nil: none).
	Audit  audit.Recorder
	Logger *zap.Logger
	Now    func() time.Time

	keyMu sync.Mutex
	key   []byte // see deriveKey
	cache accessCache
}

// Init fills in the defaults of the settings left zero.
func (s *Server) Init() {
	s.AccessTTL = cmp.Or(s.AccessTTL, DefaultAccessTTL)
	s.CodeTTL = cmp.Or(s.CodeTTL, DefaultCodeTTL)
	s.GraceWindow = cmp.Or(s.GraceWindow, DefaultGraceWindow)
	s.Logger = cmp.Or(s.Logger, zap.NewNop())
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) clientIP(r *http.Request) string {
	if s.ClientIP != nil {
		return s.ClientIP(r)
	}
	return ratelimit.PeerIP(r)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// writeJSON answers 200 with v, never cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_, _ = w.Write(b)
}

// ServeEndpoint answers r if it is the token, revoke or introspect
// endpoint and says whether it was. The authorize step needs the
// upstream consent and is the front's (ParseAuthorize, IssueCode).
func (s *Server) ServeEndpoint(w http.ResponseWriter, r *http.Request) bool {
	var client, endpoint string
	var e *Error
	switch r.URL.Path {
	case "/oauth2/token":
		endpoint = "token"
		client, e = s.token(w, r)
	case "/oauth2/revoke":
		endpoint = "revoke"
		client, e = s.revoke(w, r)
	case "/1.1/oauth2/introspect":
		endpoint = "introspect"
		client, e = s.introspect(w, r)
	default:
		return false
	}
	s.observe(client, endpoint, e.result())
	if e != nil {
		e.Write(w)
	}
	return true
}

func (s *Server) observe(client, endpoint, result string) {
	if s.Observe != nil {
		s.Observe(client, endpoint, result)
	}
}
