package googlesim

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultClientID            = "sim-google-client.apps.googleusercontent.com"
	DefaultClientSecret        = "sim-google-secret"
	DefaultUserID              = "1234567890123456789"
	DefaultLegacyUserID        = "22B7NF" // fitbitsim's default user, for migration demos
	DefaultAccessTokenLifetime = time.Hour
	DefaultRateLimitPerMinute  = 300
)

// Google's refresh-token housekeeping (see doc.go).
const (
	// MaxRefreshTokensPerUser is Google's limit of live refresh tokens per
	// user per client; issuing one more invalidates the oldest.
	MaxRefreshTokensPerUser = 100
	// RefreshTokenIdleLimit: a refresh token unused for this long is dead.
	RefreshTokenIdleLimit = 183 * 24 * time.Hour
)

// Config configures a simulated Google OAuth client and its users. The zero
// value is usable.
type Config struct {
	// ClientID and ClientSecret of the simulated OAuth client; defaults
	// DefaultClientID / DefaultClientSecret.
	ClientID, ClientSecret string
	// RedirectURIs are the registered redirect URIs; an exact match is
	// required. Empty accepts any absolute http(s) URL (for the demo).
	RedirectURIs []string
	// AccessTokenLifetime is the access-token lifetime (default 1h; the token
	// response says expires_in 3599, as Google does).
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime, if positive, makes refresh tokens die that long
	// after they were issued and adds refresh_token_expires_in to token
	// responses, like a consent screen in "Testing" (7 days at Google).
	RefreshTokenLifetime time.Duration
	// RotateRefreshTokens makes every refresh answer carry a new refresh
	// token and kills the old one. Google normally does not rotate.
	RotateRefreshTokens bool
	// Consent decides who consents to an authorization request and to what.
	// Default: DefaultUser grants everything requested.
	Consent func(r *http.Request, requested []string) Consent
	// DefaultUser is the healthUserId used when Consent names none.
	DefaultUser string
	// LegacyUserIDs maps healthUserId to the legacy Fitbit encodedId
	// reported as identity.legacyUserId. nil maps DefaultUser to
	// DefaultLegacyUserID; an empty non-nil map maps nobody.
	LegacyUserIDs map[string]string
	// RateLimitPerMinute is per user per clock minute: 0 means 300,
	// negative means unlimited.
	RateLimitPerMinute int
	// ScopePrefix is the prefix of the Google Health scopes (default
	// DefaultScopePrefix); scope names changed during 2026.
	ScopePrefix string
	// Now is the clock (default time.Now). Tests pass a controllable one.
	Now func() time.Time
	// Addr is where Start listens; default "127.0.0.1:0".
	Addr string
}

// Consent is the simulated user's answer on Google's consent screen:
// UserID is the healthUserId of who consented (empty means
// Config.DefaultUser); Granted the scopes allowed (granular consent: nil
// means everything requested, otherwise it is intersected with the
// requested scopes, and an empty result is a denial); Deny makes the user
// press "Cancel".
type Consent = simkit.Consent

// Server is a simulated Google Health API with Google's OAuth 2.0
// endpoints. It is an http.Handler; Start also serves it on loopback.
type Server struct {
	site // URLs, client credentials, consent, request and secret logs

	cfg Config

	mu      sync.Mutex
	codes   map[[32]byte]*authCode
	access  map[[32]byte]*accessToken
	refresh map[[32]byte]*refreshToken
	byUser  map[string]*userState
	rate    simkit.Window[string] // requests per user per clock minute

	stats counters

	tokenLifetime atomic.Int64 // SetAccessTokenLifetime

	auths simkit.Log[AuthRequest]

	people *personCache // the users' synthetic persons and their recent days
}

// site is embedded under an unexported name, so that Server has its
// methods but not a public field.
type site = simkit.Site

// New returns a simulator that is not yet listening; serve it with any
// http.Server (URL and the endpoint helpers are then empty) or use Start.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		codes:   map[[32]byte]*authCode{},
		access:  map[[32]byte]*accessToken{},
		refresh: map[[32]byte]*refreshToken{},
		byUser:  map[string]*userState{},
		rate:    simkit.Window[string]{Size: time.Minute},
		auths:   simkit.Log[AuthRequest]{Max: simkit.MaxRecorded},
		people:  newPersonCache(),
	}
	s.site.Init(cfg.ClientID, cfg.ClientSecret, cfg.DefaultUser, cfg.Consent, simkit.OAuth{
		AuthorizePath: pathAuthorize, TokenPath: pathToken, RevokePath: pathRevoke,
		Authorize: s.handleAuthorize, Token: s.handleToken, Revoke: s.handleRevoke,
	})
	s.tokenLifetime.Store(int64(cfg.AccessTokenLifetime))
	return s
}

// Start creates a simulator and serves it on Config.Addr (default
// 127.0.0.1:0) with a real http.Server.
func Start(cfg Config) (*Server, error) {
	s := New(cfg)
	if err := s.Serve(s.cfg.Addr, s); err != nil {
		return nil, fmt.Errorf("googlesim: listen: %w", err)
	}
	return s, nil
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.AccessTokenLifetime <= 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.RateLimitPerMinute == 0 {
		c.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if c.DefaultUser == "" {
		c.DefaultUser = DefaultUserID
	}
	if c.LegacyUserIDs == nil {
		c.LegacyUserIDs = map[string]string{c.DefaultUser: DefaultLegacyUserID}
	} else {
		m := make(map[string]string, len(c.LegacyUserIDs))
		for k, v := range c.LegacyUserIDs {
			m[k] = v
		}
		c.LegacyUserIDs = m
	}
	if c.ScopePrefix == "" {
		c.ScopePrefix = DefaultScopePrefix
	}
	simkit.FillDefaults(&c.Now, &c.Addr, &c.RedirectURIs, &c.Consent, c.DefaultUser)
	return c
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// SetAccessTokenLifetime changes the lifetime of access tokens issued from
// now on.
func (s *Server) SetAccessTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = DefaultAccessTokenLifetime
	}
	s.tokenLifetime.Store(int64(d))
}

// LegacyUserID returns the legacy Fitbit id of a healthUserId, if any.
func (s *Server) LegacyUserID(healthUserID string) string { return s.cfg.LegacyUserIDs[healthUserID] }

func (s *Server) now() time.Time { return s.cfg.Now() }

// The endpoint paths. At Google the consent screen is on
// accounts.google.com, the token and revocation endpoints on
// oauth2.googleapis.com and the data API (under /v4/) on
// health.googleapis.com; the simulator serves them all on URL().
const (
	pathAuthorize = "/o/oauth2/v2/auth"
	pathToken     = "/token"
	pathRevoke    = "/revoke"
)

// ServeHTTP routes to the OAuth endpoints and the data API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A bug in the simulator must not take the test process down; answer
	// like an upstream failure instead.
	defer simkit.RecoverPanic(w, func(w http.ResponseWriter, v any) {
		writeStatus(w, http.StatusInternalServerError, "INTERNAL",
			fmt.Sprintf("googlesim internal error: %v", v), nil)
	})
	s.Route(w, r, s.serveAPI)
}

// jsonType is the Content-Type of Google's JSON answers.
const jsonType = "application/json; charset=utf-8"

// writeJSON sends v as a JSON body the way Google's front ends do.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	simkit.WriteJSON(w, status, jsonType, v, func(w http.ResponseWriter) {
		writeStatus(w, http.StatusInternalServerError, "INTERNAL", "encoding error", nil)
	})
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	simkit.WriteBody(w, status, jsonType, b)
}
