package connect

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The buttons of the connections page are POST forms, protected from
// cross-site request forgery three ways:
//   - the browser's own word: Sec-Fetch-Site or Origin must say the request
//     comes from this origin (http.CrossOriginProtection);
//   - a double-submit token bound to the browser and to the identity: the
//     form carries HMAC(key, identity hash, cookie), where the cookie is a
//     random value of this browser's (HttpOnly, SameSite=Lax, __Host- under
//     https like the binding cookie) and key a secret of the gateway kept in
//     the store, so that every instance checks the tokens of every other and
//     a planted cookie is worth nothing without the key (OWASP CSRF
//     Prevention Cheat Sheet, "Signed Double-Submit Cookie");
//   - SameSite=Lax, so a cross-site POST carries no cookie at all.
const (
	SecureCSRFCookieName = "__Host-fitbit_csrf"
	CSRFCookieName       = "fitbit_csrf"
	// csrfField is the form field the token travels in.
	csrfField = "csrf"
	// maxFormBytes bounds a form post: a token, a provider name.
	maxFormBytes = 4 << 10
)

// The store entry holding the gateway's CSRF key.
const (
	csrfKeyKind = "connect_csrf_key"
	csrfKeyID   = "hmac"
)

// errCSRF is a form post that fails the checks above.
var errCSRF = errors.New("connect: cross-site request refused")

// csrfKey returns the gateway's CSRF key, creating it in the store the
// first time any instance needs one (AddEntry: the first writer wins, every
// instance then reads the same key). It is read on each use, one small
// store read beside the page's own, so that the Flow holds no state.
func (f *Flow) csrfKey(ctx context.Context) ([]byte, error) {
	k, err := f.Store.GetEntry(ctx, csrfKeyKind, csrfKeyID)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, tokenstore.ErrNotFound) {
		return nil, fmt.Errorf("reading the CSRF key: %w", err)
	}
	k = make([]byte, 32)
	_, _ = rand.Read(k)
	// It never expires: a page open across a rotation would fail its post.
	if _, err := f.Store.AddEntry(ctx, csrfKeyKind, csrfKeyID, k, time.Time{}); err != nil {
		return nil, fmt.Errorf("storing the CSRF key: %w", err)
	}
	if k, err = f.Store.GetEntry(ctx, csrfKeyKind, csrfKeyID); err != nil {
		return nil, fmt.Errorf("reading the CSRF key: %w", err)
	}
	return k, nil
}

// csrfCookie is the CSRF cookie, without value, for the default
// registration's redirect URI's scheme (see bindingCookie).
func (f *Flow) csrfCookie() *http.Cookie {
	c := bindingCookie(f.Tokens.Provider().Reg.RedirectURL, f.Prefix)
	if c.Secure {
		c.Name = SecureCSRFCookieName
	} else {
		c.Name = CSRFCookieName
	}
	return c
}

// csrfToken returns the token the forms of a page for identity carry,
// setting the browser's CSRF cookie when it has none.
func (f *Flow) csrfToken(ctx context.Context, w http.ResponseWriter, r *http.Request, identity string) (string, error) {
	key, err := f.csrfKey(ctx)
	if err != nil {
		return "", err
	}
	cookie := f.csrfCookie()
	value := browserBinding(r, cookie.Name)
	if c, err := r.Cookie(cookie.Name); err != nil || c.Value != value {
		cookie.Value = value
		http.SetCookie(w, cookie) // a session cookie: the browser's, not a login
	}
	return csrfMAC(key, identity, value), nil
}

// checkCSRF admits a form post for identity: from this origin, carrying the
// token of this browser's cookie and identity.
func (f *Flow) checkCSRF(r *http.Request, identity string) error {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return errCSRF
	}
	c, err := r.Cookie(f.csrfCookie().Name)
	if err != nil || c.Value == "" {
		return errCSRF
	}
	key, err := f.csrfKey(r.Context())
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(csrfMAC(key, identity, c.Value))) {
		return errCSRF
	}
	return nil
}

func csrfMAC(key []byte, identity, cookie string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("caddy-fitbit connect csrf v1\x00"))
	m.Write([]byte(tokenstore.IdentityHash(identity)))
	m.Write([]byte{0})
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// parseForm reads a form post's body, bounded.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm()
}
