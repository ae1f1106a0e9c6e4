package successor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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
	// Now is the clock of GoneProbe; nil: time.Now.
	Now func() time.Time
	// Identity names the caller, "" when unauthenticated. The router
	// evaluates it once per Fitbit call and hands the result to Pass or
	// Successor.
	Identity  func(*http.Request) string
	Pass      Pass
	Successor Answerer
}

// Pass is the transport calls go to when the successor does not answer
// them; *inject.Transport implements it.
type Pass interface {
	http.RoundTripper
	// RoundTripAs is RoundTrip for a caller already identified.
	RoundTripAs(req *http.Request, identity string) (*http.Response, error)
}

// Answerer answers a Fitbit call from the successor; *Server implements it.
type Answerer interface {
	// Answer answers req of identity ("" when unauthenticated);
	// unconnected reports that the answer is the gateway's own 401 (no
	// usable connection to the successor either).
	Answer(req *http.Request, identity string) (resp *http.Response, unconnected bool, err error)
}

func (r *Router) successor(req *http.Request, identity string) (*http.Response, error) {
	resp, _, err := r.Successor.Answer(req, identity)
	return resp, err
}

// RoundTrip implements http.RoundTripper.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.Mode == Off || !FitbitPath(req.URL.Path) {
		return r.Pass.RoundTrip(req)
	}
	identity := r.Identity(req)
	if r.Mode == Always || r.Fitbit == nil {
		return r.successor(req, identity)
	}
	if identity == "" {
		return r.Pass.RoundTripAs(req, identity) // it answers "unauthenticated" in Fitbit's envelope
	}
	if r.Gone != nil {
		// Every 410 marks Gone anew, so Fitbit is asked again only once per
		// GoneProbe: should it come back, the next normal answer clears it.
		if since := r.Gone.Since(); !since.IsZero() && r.now().Sub(since) < GoneProbe {
			return r.successor(req, identity)
		}
	}
	// A cached connection is the token manager's hot path (no storage
	// read), and Pass finds it again the same way.
	if _, err := r.Fitbit.Get(req.Context(), identity); unusable(err) {
		resp, unconnected, err := r.Successor.Answer(req, identity)
		if err != nil || !unconnected {
			return resp, err
		}
		// Connected to neither: Fitbit still answers, so Fitbit's own
		// answer says where to connect (nothing is sent to Fitbit).
		_ = resp.Body.Close()
		return r.Pass.RoundTripAs(req, identity)
	}
	bodyless := req.Body == nil || req.Body == http.NoBody
	resp, err := r.Pass.RoundTripAs(req, identity)
	if err == nil && resp.StatusCode == http.StatusGone && bodyless {
		// Fitbit turned its API off just now: this call has nothing to
		// replay, so it is answered from Google as the next ones will be.
		_ = resp.Body.Close()
		req.Header.Del("Authorization")
		return r.successor(req, identity)
	}
	return resp, err
}

// GoneProbe is how long after Fitbit last answered 410 Gone calls go
// straight to the successor, before one is sent to Fitbit again.
const GoneProbe = time.Minute

func (r *Router) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// unusable reports whether a token manager's error means the identity has
// no Fitbit connection the gateway can use: none, one Fitbit no longer
// accepts, one that cannot be read, or Fitbit's token endpoint gone.
func unusable(err error) bool {
	if err == nil {
		return false // the hot path: errors.As's target would escape to the heap
	}
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
