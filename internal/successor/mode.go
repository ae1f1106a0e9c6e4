package successor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Mode says when Fitbit calls are answered from the successor API.
type Mode string

// The modes.
const (
	// Off passes every call through to Fitbit.
	Off Mode = "off"
	// Fallback answers from Google the calls of identities with no usable
	// Fitbit connection (none, provider_gone, needs_reauth); everyone else
	// passes through to Fitbit. The default when a Google Health
	// registration exists.
	Fallback Mode = "fallback"
	// Always answers every Fitbit call from Google.
	Always Mode = "always"
)

// ParseMode checks a configured mode; "" is Fallback.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Fallback, nil
	case Off, Fallback, Always:
		return m, nil
	}
	return "", fmt.Errorf("translate mode %q: want off, fallback or always", s)
}

// Connections is what the router needs of the Fitbit token manager: whether
// an identity has a usable connection. *tokens.Manager implements it.
type Connections interface {
	Get(ctx context.Context, identity string) (*tokens.Entry, error)
}

// Router sends a Fitbit call to Fitbit (Pass, the Fitbit registration's
// credential-injecting transport) or to the successor (Successor, a
// *Server).
type Router struct {
	Mode Mode
	// Fitbit is the Fitbit registration's connections and Gone state; nil
	// when the proxy's registration is the successor itself (no Fitbit
	// registration), which answers every Fitbit call it is given.
	Fitbit Connections
	Gone   *provider.Gone
	// Identity names the caller, "" when unauthenticated.
	Identity  func(*http.Request) string
	Pass      http.RoundTripper
	Successor http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.Mode == Off || !FitbitPath(req.URL.Path) {
		return r.Pass.RoundTrip(req)
	}
	if r.Mode == Always || r.Fitbit == nil {
		return r.Successor.RoundTrip(req)
	}
	identity := r.Identity(req)
	if identity == "" {
		return r.Pass.RoundTrip(req) // it answers "unauthenticated" in Fitbit's envelope
	}
	if r.Gone != nil && !r.Gone.Since().IsZero() {
		return r.Successor.RoundTrip(req)
	}
	// A cached connection is the token manager's hot path (no storage
	// read), and Pass finds it again the same way.
	if _, err := r.Fitbit.Get(req.Context(), identity); unusable(err) {
		return r.Successor.RoundTrip(req)
	}
	bodyless := req.Body == nil || req.Body == http.NoBody
	resp, err := r.Pass.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusGone && bodyless {
		// Fitbit turned its API off just now: this call has nothing to
		// replay, so it is answered from Google as the next ones will be.
		_ = resp.Body.Close()
		req.Header.Del("Authorization")
		return r.Successor.RoundTrip(req)
	}
	return resp, err
}

// unusable reports whether a token manager's error means the identity has
// no Fitbit connection the gateway can use: none, one Fitbit no longer
// accepts, one that cannot be read, or Fitbit's token endpoint gone.
func unusable(err error) bool {
	var te *provider.TokenError
	return errors.Is(err, tokens.ErrNotConnected) || errors.Is(err, tokens.ErrNeedsReauth) ||
		errors.Is(err, tokenstore.ErrUnreadable) || (errors.As(err, &te) && te.Status == http.StatusGone)
}

// FitbitPath reports whether path is one of Fitbit's Web API paths (/1/,
// /1.1/, /1.2/), the calls the successor answers.
func FitbitPath(path string) bool {
	for _, p := range provider.Fitbit.PathPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
