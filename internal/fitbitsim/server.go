package fitbitsim

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// AppType is the Fitbit application type, which decides how the app
// authenticates at the token endpoint and whether it may skip PKCE.
type AppType string

// The three Fitbit application types.
const (
	ServerApp   AppType = "server"
	ClientApp   AppType = "client"
	PersonalApp AppType = "personal"
)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultClientID            = "23ABCD"
	DefaultClientSecret        = "sim-client-secret"
	DefaultUserID              = "22B7NF"
	DefaultAccessTokenLifetime = 8 * time.Hour
	DefaultGraceWindow         = 2 * time.Minute
	DefaultRateLimitPerHour    = 150
)

// Config configures a simulated Fitbit app and its users. The zero value is
// a usable server app.
type Config struct {
	ClientID, ClientSecret string  // defaults "23ABCD" / "sim-client-secret"
	AppType                AppType // default "server"
	// RedirectURIs are the registered redirect URIs; an exact match is
	// required. Empty accepts any absolute http(s) URL (for the demo).
	RedirectURIs []string
	// AccessTokenLifetime is the default access-token lifetime (8h). The
	// token response's expires_in reflects it, or the request's expires_in.
	AccessTokenLifetime time.Duration
	// GraceWindow is how long an identical refresh request is answered with
	// the same response (default 2m; negative disables the grace window).
	GraceWindow time.Duration
	// RateLimitPerHour is per user per app per clock hour: 0 means the
	// default 150, negative means unlimited.
	RateLimitPerHour int
	// IntradayApproved: if false, intraday detail levels on heart rate answer
	// 403 insufficient_permissions, except for personal apps.
	IntradayApproved bool
	// Consent decides who consents to an authorization request and to what.
	// Default: DefaultUser grants everything requested.
	Consent func(r *http.Request, requested []string) Consent
	// DefaultUser is the user id used when Consent names none ("22B7NF").
	DefaultUser string
	// Now is the clock (default time.Now). Tests pass a controllable one.
	Now func() time.Time
	// Addr is where Start listens; default "127.0.0.1:0".
	Addr string
	// RecoveryEnabled allows POST /oauth2/recover, which Fitbit enables per
	// app on request only (SetRecoveryEnabled changes it at run time).
	RecoveryEnabled bool
}

// Consent is the simulated user's answer on the consent page: UserID is who
// consented (empty means Config.DefaultUser); Granted the scopes allowed
// (nil means everything requested, otherwise it is intersected with the
// requested scopes and an empty result is a denial); Deny makes the user
// press "Deny".
type Consent = simkit.Consent

// Server is a simulated Fitbit Web API. It is an http.Handler; Start also
// serves it on loopback.
type Server struct {
	site // URLs, client credentials, consent, request and secret logs

	cfg Config
	key []byte // HS256 key for access tokens

	mu      sync.Mutex
	codes   map[[32]byte]*authCode
	refresh map[[32]byte]*refreshToken
	access  map[string]*accessToken  // by jti
	current map[string]*refreshToken // user -> the active refresh token
	byUser  map[string]*userState    // user -> tokens, counters, data
	rate    simkit.Window[rateKey]   // requests per user per app per clock hour
	logSeq  int64                    // activity log ids

	stats counters

	tokenLifetime atomic.Int64 // access-token lifetime in ns; SetAccessTokenLifetime
	gone          atomic.Bool  // SetGone: every endpoint answers 410
	recovery      atomic.Bool  // SetRecoveryEnabled
	faults        faultState   // SetFaults, FailNextRefreshes
}

// site is embedded under an unexported name, so that Server has its
// methods but not a public field.
type site = simkit.Site

// New returns a simulator that is not yet listening; serve it with any
// http.Server (URL and the endpoint helpers are then empty) or use Start.
// It panics on an unknown AppType, which is a programming error.
func New(cfg Config) *Server {
	cfg, err := cfg.withDefaults()
	if err != nil {
		panic(err)
	}
	s := &Server{
		cfg:     cfg,
		key:     simkit.RandomBytes(32),
		codes:   map[[32]byte]*authCode{},
		refresh: map[[32]byte]*refreshToken{},
		access:  map[string]*accessToken{},
		current: map[string]*refreshToken{},
		byUser:  map[string]*userState{},
		rate:    simkit.Window[rateKey]{Size: time.Hour},
	}
	s.site.Init(cfg.ClientID, cfg.ClientSecret, cfg.DefaultUser, cfg.Consent, simkit.OAuth{
		AuthorizePath: pathAuthorize, TokenPath: pathToken, RevokePath: pathRevoke,
		Authorize: s.handleAuthorize, Token: s.handleToken, Revoke: s.handleRevoke,
	})
	s.Handle(pathRecover, s.handleRecover)
	s.Handle(pathIntrospect, s.handleIntrospect)
	s.tokenLifetime.Store(int64(cfg.AccessTokenLifetime))
	s.recovery.Store(cfg.RecoveryEnabled)
	s.SetFaults(Faults{})
	return s
}

// Start creates a simulator and serves it on Config.Addr (default
// 127.0.0.1:0) with a real http.Server.
func Start(cfg Config) (*Server, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	s := New(cfg)
	if err := s.Serve(s.cfg.Addr, s); err != nil {
		return nil, fmt.Errorf("fitbitsim: listen: %w", err)
	}
	return s, nil
}

func (c Config) withDefaults() (Config, error) {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	switch c.AppType {
	case "":
		c.AppType = ServerApp
	case ServerApp, ClientApp, PersonalApp:
	default:
		return c, fmt.Errorf("fitbitsim: unknown app type %q", c.AppType)
	}
	if c.AccessTokenLifetime <= 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.GraceWindow == 0 {
		c.GraceWindow = DefaultGraceWindow
	}
	if c.RateLimitPerHour == 0 {
		c.RateLimitPerHour = DefaultRateLimitPerHour
	}
	if c.DefaultUser == "" {
		c.DefaultUser = DefaultUserID
	}
	simkit.FillDefaults(&c.Now, &c.Addr, &c.RedirectURIs, &c.Consent, c.DefaultUser)
	return c, nil
}

// Config returns the effective configuration (defaults filled in, and
// RecoveryEnabled as SetRecoveryEnabled last left it).
func (s *Server) Config() Config {
	c := s.cfg
	c.RecoveryEnabled = s.recovery.Load()
	return c
}

// RecoverURL is URL()+"/oauth2/recover".
func (s *Server) RecoverURL() string { return s.URL() + pathRecover }

// IntrospectURL is URL()+"/1.1/oauth2/introspect".
func (s *Server) IntrospectURL() string { return s.URL() + pathIntrospect }

func (s *Server) now() time.Time { return s.cfg.Now() }

const (
	pathAuthorize  = "/oauth2/authorize"
	pathToken      = "/oauth2/token"
	pathRevoke     = "/oauth2/revoke"
	pathRecover    = "/oauth2/recover"
	pathIntrospect = "/1.1/oauth2/introspect"
)

// ServeHTTP routes to the OAuth endpoints and the data API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A bug in the simulator must not take the test process down; answer
	// like an upstream failure instead.
	defer simkit.RecoverPanic(w, func(w http.ResponseWriter, v any) {
		apierror.Write(w, http.StatusInternalServerError, apierror.Item{
			ErrorType: apierror.System, Message: fmt.Sprintf("fitbitsim internal error: %v", v)})
	})
	if s.gone.Load() {
		serveGone(w)
		return
	}
	s.Route(w, r, s.serveAPI)
}

// jsonType is the Content-Type of Fitbit's JSON answers.
const jsonType = "application/json;charset=UTF-8"

// writeJSON sends v as a JSON body the way Fitbit does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	simkit.WriteJSON(w, status, jsonType, v, func(w http.ResponseWriter) {
		apierror.Write(w, http.StatusInternalServerError, apierror.Item{ErrorType: apierror.System, Message: "encoding error"})
	})
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	simkit.WriteBody(w, status, jsonType, b)
}

// SetAccessTokenLifetime changes the lifetime of access tokens issued from
// now on (an expires_in request parameter still wins).
func (s *Server) SetAccessTokenLifetime(d time.Duration) { s.tokenLifetime.Store(int64(d)) }
