package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// AppType is how Fitbit classed an app, which decides how it authenticates
// at the token endpoint
// (https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Application-Types).
type AppType string

// The app types.
const (
	// Server apps keep a secret: HTTP Basic at the token endpoint; PKCE
	// is optional for them, as it was at Fitbit.
	ServerApp AppType = "server"
	// Client and personal apps send client_id in the body, no secret, and
	// must use PKCE (RFC 7636): a secret in an installed app is no secret.
	ClientApp   AppType = "client"
	PersonalApp AppType = "personal"
)

// Scopes are Fitbit's scope names
// (https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Scopes).
var Scopes = []string{"activity", "cardio_fitness", "electrocardiogram", "heartrate", "irregular_rhythm_notifications",
	"location", "nutrition", "oxygen_saturation", "profile", "respiratory_rate", "settings", "sleep", "social",
	"temperature", "weight"}

// App is an OAuth 2.0 client registered with the gateway, as it was
// registered with Fitbit.
type App struct {
	ID     string
	Secret string
	Type   AppType
	// RedirectURIs are compared exactly, byte for byte (RFC 9700 §4.1.3).
	RedirectURIs []string
	// Scopes the app may ask for; empty: all of Scopes.
	Scopes []string
	// Provider names the upstream registration the app's users connect
	// to, for the Connector; "" is the front's default.
	Provider string
	// AccessTTL is the lifetime of the app's access tokens; 0: the
	// Server's AccessTTL (Fitbit's 8 hours). A short one lets an app's
	// expiry handling (refresh on 401 expired_token) be exercised.
	AccessTTL time.Duration
}

// MinAccessTTL is the shortest access token lifetime an app may have:
// expires_in counts whole seconds (RFC 6749 §5.1), so anything shorter
// would tell the app its token expired on arrival.
const MinAccessTTL = time.Second

// Validate checks a registration.
func (a App) Validate() error {
	switch {
	case a.ID == "" || len(a.ID) > maxParamLen:
		return fmt.Errorf("authserver: an app needs a client id of 1–%d characters", maxParamLen)
	case a.Type != ServerApp && a.Type != ClientApp && a.Type != PersonalApp:
		return fmt.Errorf("authserver: app %s: type must be server, client or personal, not %q", a.ID, a.Type)
	case a.Type == ServerApp && len(a.Secret) < 16:
		return fmt.Errorf("authserver: app %s: a server app needs a client secret of at least 16 characters", a.ID)
	case a.AccessTTL != 0 && (a.AccessTTL < MinAccessTTL || a.AccessTTL%time.Second != 0):
		return fmt.Errorf("authserver: app %s: access token lifetime %v must be whole seconds, at least %v", a.ID, a.AccessTTL, MinAccessTTL)
	case len(a.RedirectURIs) == 0:
		return fmt.Errorf("authserver: app %s: at least one redirect URI is needed", a.ID)
	}
	for _, u := range a.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Fragment != "" {
			return fmt.Errorf("authserver: app %s: redirect URI %q must be absolute and without a fragment (RFC 6749 §3.1.2)", a.ID, u)
		}
	}
	for _, s := range a.Scopes {
		if !slices.Contains(Scopes, s) {
			return fmt.Errorf("authserver: app %s: unknown Fitbit scope %q", a.ID, s)
		}
	}
	return nil
}

func (a App) allows(scope string) bool {
	return slices.Contains(Scopes, scope) && (len(a.Scopes) == 0 || slices.Contains(a.Scopes, scope))
}

// secretMatches compares in constant time, hashing first so that not even
// the secret's length shows in the timing.
func (a App) secretMatches(secret string) bool {
	want, got := sha256.Sum256([]byte(a.Secret)), sha256.Sum256([]byte(secret))
	return a.Secret != "" && subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// clientOf authenticates the app calling the token, revoke or introspect
// endpoint. Server apps must use HTTP Basic (RFC 6749 §2.3.1); client and
// personal apps may send Basic with their secret, or client_id alone, as
// Fitbit allowed. params are the request's form and query parameters.
func (s *Server) clientOf(r *http.Request, params url.Values) (App, *Error) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		if r.Header.Get("Authorization") != "" {
			return App{}, invalidClient("Invalid authorization header format.")
		}
		id = params.Get("client_id")
		if id == "" {
			return App{}, invalidClient("Invalid authorization header. Client id invalid.")
		}
	}
	a, ok := s.Apps[id]
	if !ok {
		return App{}, invalidClient("Invalid authorization header. Client id invalid.")
	}
	if basic {
		if !a.secretMatches(secret) {
			return App{}, invalidClient("Invalid authorization header. Client secret invalid.")
		}
		return a, nil
	}
	if a.Type == ServerApp {
		return App{}, invalidClient("Invalid authorization header. A server app authenticates with HTTP Basic.")
	}
	if cid := params.Get("client_id"); cid != "" && cid != a.ID {
		return App{}, invalidClient("Invalid authorization header. Client id invalid.")
	}
	return a, nil
}
