package simkit

import (
	"context"
	"net/http"
)

// OAuth are the OAuth 2.0 endpoints every simulated provider serves: the
// consent page (RFC 6749 §3.1), the token endpoint (§3.2) and revocation
// (RFC 7009), each one's path and handler.
type OAuth struct {
	AuthorizePath, TokenPath, RevokePath string
	Authorize, Token, Revoke             http.HandlerFunc
}

// MaxRecorded bounds a simulator's request logs; older entries are dropped
// first.
const MaxRecorded = 10000

// Site is the part of a simulated provider's Server that is the same
// whatever the provider: the OAuth client, the OAuth endpoints, the HTTP
// server it is served on once started, the consent hook and the logs tests
// read. A Server embeds it, through an unexported alias so the field stays
// private, and its methods are the Server's. Set it up with Init.
type Site struct {
	Consent    ConsentHook
	Issued     Log[string]          // every code and token issued, for leak tests
	RequestLog Log[RecordedRequest] // data-API requests, recorded before they are answered

	clientID, clientSecret string
	oauth                  OAuth
	routes                 Routes
	srv                    *HTTPServer
}

// Init sets up s for an OAuth client, its OAuth endpoints and a consent
// function (nil: defaultUser grants everything requested).
func (s *Site) Init(clientID, clientSecret, defaultUser string, consent ConsentFunc, oauth OAuth) {
	s.clientID, s.clientSecret, s.oauth = clientID, clientSecret, oauth
	s.routes = Routes{
		oauth.AuthorizePath: oauth.Authorize,
		oauth.TokenPath:     oauth.Token,
		oauth.RevokePath:    oauth.Revoke,
	}
	s.Consent.DefaultUser = defaultUser
	s.Consent.Set(consent)
	s.RequestLog.Max = MaxRecorded
}

// Handle adds an endpoint of the provider's own, served at exactly path.
// Call it during setup, before the Server is shared.
func (s *Site) Handle(path string, h http.HandlerFunc) { s.routes[path] = h }

// Route serves r with the handler of its exact path (see Routes), or with
// other, the data API.
func (s *Site) Route(w http.ResponseWriter, r *http.Request, other http.HandlerFunc) {
	s.routes.Serve(w, r, other)
}

// Serve serves h on addr ("127.0.0.1:0" picks a free port) until Close.
// Call it once, before the Server is shared.
func (s *Site) Serve(addr string, h http.Handler) error {
	srv, err := Listen(addr, h)
	if err != nil {
		return err
	}
	s.srv = srv
	return nil
}

// Close stops the HTTP server started by Serve. It is a no-op otherwise.
func (s *Site) Close() error { return s.srv.Close() }

// Shutdown stops the HTTP server started by Serve gracefully (see
// http.Server.Shutdown). It is a no-op otherwise.
func (s *Site) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// URL is "http://127.0.0.1:port" once served; empty otherwise.
func (s *Site) URL() string { return s.srv.URL() }

// AuthorizeURL is the consent page, URL() and the authorize path.
func (s *Site) AuthorizeURL() string { return s.URL() + s.oauth.AuthorizePath }

// TokenURL is URL() and the token path.
func (s *Site) TokenURL() string { return s.URL() + s.oauth.TokenPath }

// RevokeURL is URL() and the revocation path.
func (s *Site) RevokeURL() string { return s.URL() + s.oauth.RevokePath }

// APIBase is the base of the data API, URL().
func (s *Site) APIBase() string { return s.URL() }

// ClientID returns the simulated OAuth client's id.
func (s *Site) ClientID() string { return s.clientID }

// ClientSecret returns the simulated OAuth client's secret.
func (s *Site) ClientSecret() string { return s.clientSecret }

// SetConsent replaces the consent function at run time; nil restores the
// default (the default user grants everything requested).
func (s *Site) SetConsent(f ConsentFunc) { s.Consent.Set(f) }

// IssuedSecrets returns every authorization code, access token and refresh
// token the simulator has issued, so tests can search logs and storage for
// them.
func (s *Site) IssuedSecrets() []string { return s.Issued.All() }

// Requests returns a copy of the data-API requests received so far. A
// request is recorded before its response is written.
func (s *Site) Requests() []RecordedRequest {
	return s.RequestLog.AppendTo([]RecordedRequest{})
}

// ResetRequests forgets the recorded data-API requests.
func (s *Site) ResetRequests() { s.RequestLog.Reset() }
