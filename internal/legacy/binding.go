package legacy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// A request token belongs to the first browser that opens its authorize
// link: that visit claims it, across instances, with an add-if-absent entry
// holding the SHA-256 of a random cookie it gives the browser. Only that
// browser may start the consent, and only it is shown the verifier, once,
// after the consent. This is what the OAuth 1.0a verifier is for (RFC 5849
// §2.2, §4.13): a link that leaked — sent to a victim by whoever started the
// sign-in — is worth nothing to anyone but the browser that consented.
const (
	// kindClaim maps a request token to the browser that claimed it.
	kindClaim = "oauth1_claim"
	// kindRevealed marks a request token whose verifier was shown.
	kindRevealed = "oauth1_revealed"
)

// Names of the browser-binding cookie: with the __Host- prefix (RFC 6265bis
// §4.1.3.2: Secure, Path=/, no Domain, so a sibling subdomain or a plain-HTTP
// response cannot plant it) whenever the app reaches the gateway over TLS,
// and without it on plain HTTP (http://localhost), where browsers refuse
// Secure cookies.
const (
	cookieName       = "fitbit_oauth1"
	secureCookieName = "__Host-fitbit_oauth1"
)

// claimResult is what a browser is to a request token.
type claimResult int

const (
	claimOwner   claimResult = iota // this browser claimed it (now or before)
	claimForeign                    // another browser did
)

func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return secureCookieName
	}
	return cookieName
}

// browserCookie returns the binding value the browser sent, if it is one
// the gateway could have made (43 characters of base64url: 256 bits).
func (s *Server) browserCookie(r *http.Request) string {
	c, err := r.Cookie(s.cookieName(r))
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return ""
	}
	return c.Value
}

// claim binds token to this browser unless another browser holds it. The
// owner gets its binding cookie (new, or refreshed to outlive this token)
// set on w.
func (s *Server) claim(ctx context.Context, w http.ResponseWriter, r *http.Request, token string) (claimResult, error) {
	binding := s.browserCookie(r)
	fresh := binding == ""
	if fresh {
		binding = randomToken()
	}
	hash := bindingHash(binding)
	for range 2 { // an entry that expires between Add and Get is gone: add again
		added, err := s.Entries.AddEntry(ctx, kindClaim, token, []byte(hash), s.now().Add(s.RequestTokenTTL))
		if err != nil {
			return 0, err
		}
		if added {
			s.setCookie(w, r, binding)
			return claimOwner, nil
		}
		owner, err := s.Entries.GetEntry(ctx, kindClaim, token)
		if errors.Is(err, tokenstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if !fresh && subtle.ConstantTimeCompare(owner, []byte(hash)) == 1 {
			s.setCookie(w, r, binding)
			return claimOwner, nil
		}
		return claimForeign, nil
	}
	return claimForeign, nil
}

// reveal says whether this is the one time the verifier of token may be
// shown: of any number of visits, on any instance, one gets true.
func (s *Server) reveal(ctx context.Context, token string) (bool, error) {
	return s.Entries.AddEntry(ctx, kindRevealed, token, nil, s.now().Add(s.RequestTokenTTL))
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, binding string) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(r),
		Value:    binding,
		Path:     "/",
		MaxAge:   int(s.RequestTokenTTL / time.Second),
		HttpOnly: true,
		Secure:   s.secure(r),
		// Lax: the browser comes back here by a top-level redirect from
		// the provider's consent (through the OAuth 2.0 callback).
		SameSite: http.SameSiteLaxMode,
	})
}

// randomToken returns 256 random bits, base64url (43 characters).
func randomToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func bindingHash(binding string) string {
	sum := sha256.Sum256([]byte(binding))
	return hex.EncodeToString(sum[:])
}
