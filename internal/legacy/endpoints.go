package legacy

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// requestToken serves POST (and GET) <prefix>/request_token: a request
// signed with the consumer secret alone gets temporary credentials.
func (s *Server) requestToken(w http.ResponseWriter, r *http.Request) *Error {
	if e := allowMethod(w, r, http.MethodPost, http.MethodGet); e != nil {
		return e
	}
	if d := s.TokenGate.Admit(r.Context(), s.clientIP(r), ""); !d.Allowed {
		return tooManyRequests(d.RetryAfter)
	}
	sig, e := s.verify(r, func(oauth1.Params, Consumer) (string, *Error) { return "", nil })
	if e != nil {
		return e
	}
	callback := sig.Callback
	if callback == "" {
		callback = sig.Consumer.Callback
	}
	if callback == "" {
		callback = "oob"
	}
	if err := checkCallback(callback); err != "" {
		return badRequest(fieldCallback, "oauth_problem=parameter_rejected: "+err)
	}
	token, t := randomHex(16), &requestToken{
		Consumer: sig.ConsumerKey,
		Secret:   randomHex(20),
		Callback: callback,
		Identity: identityPrefix + randomHex(16),
		Verifier: randomHex(10),
	}
	b, _ := json.Marshal(t)
	if err := s.Entries.PutEntry(r.Context(), kindRequest, token, b, s.now().Add(s.RequestTokenTTL)); err != nil {
		s.Logger.Error("could not store an OAuth 1.0a request token", zap.Error(err))
		return errStore
	}
	s.Logger.Info("oauth1 request token issued", zap.String("consumer", sig.ConsumerKey),
		zap.String("identity_hash", tokenstore.IdentityHash(t.Identity)), zap.Bool("oob", callback == "oob"))
	formResponse(w, url.Values{
		"oauth_token":              {token},
		"oauth_token_secret":       {t.Secret},
		"oauth_callback_confirmed": {"true"},
	})
	return nil
}

// checkCallback accepts "oob" or an absolute http(s) URL without a fragment,
// and returns what is wrong otherwise.
func checkCallback(cb string) string {
	if cb == "oob" {
		return ""
	}
	if len(cb) > maxCallbackLen {
		return "oauth_callback is too long"
	}
	u, err := url.Parse(cb)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return `oauth_callback must be "oob" or an absolute http(s) URL without credentials or fragment`
	}
	return ""
}

// authorize serves GET <prefix>/authorize?oauth_token=…. The first browser
// to open the link claims the request token (see binding.go); in it, the
// first visit connects the request token's identity to the provider
// through the gateway's OAuth 2.0 flow, which comes back here; once
// connected, the browser goes on, once, to the app's callback with the
// verifier (or, out of band, the page shows it). Any other browser gets a
// page and starts nothing.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if e := allowMethod(w, r, http.MethodGet, http.MethodHead); e != nil {
		e.Write(w, "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	ctx := r.Context()
	if d := s.BrowserGate.Admit(ctx, s.clientIP(r), ""); !d.Allowed {
		tooManyPage(w, d.RetryAfter)
		return
	}
	token := r.URL.Query().Get("oauth_token")
	t, err := s.loadRequest(ctx, token)
	switch {
	case errors.Is(err, tokenstore.ErrNotFound):
		htmlpage.Write(w, http.StatusBadRequest, "Unknown or expired link",
			"This authorization link is unknown, was already used, or is older than ten minutes. Start again from the app.")
		return
	case err != nil:
		s.Logger.Error("could not read an OAuth 1.0a request token", zap.Error(err))
		htmlpage.Write(w, http.StatusServiceUnavailable, "Try again", "The gateway could not read the authorization. Please try again shortly.")
		return
	}
	if r.Method == http.MethodHead {
		// Link checkers and previews probe with HEAD: they claim nothing.
		w.WriteHeader(http.StatusOK)
		return
	}
	if d := s.BrowserGate.Admit(ctx, "", t.Identity); !d.Allowed {
		tooManyPage(w, d.RetryAfter)
		return
	}
	switch owner, err := s.claim(ctx, w, r, token); {
	case err != nil:
		s.Logger.Error("could not claim an OAuth 1.0a request token", zap.Error(err))
		htmlpage.Write(w, http.StatusServiceUnavailable, "Try again", "The gateway could not read the authorization. Please try again shortly.")
		return
	case owner == claimForeign:
		s.Logger.Warn("oauth1 authorize link opened in a second browser; refused",
			zap.String("consumer", t.Consumer), zap.String("identity_hash", tokenstore.IdentityHash(t.Identity)))
		htmlpage.Write(w, http.StatusForbidden, "Opened in another browser",
			"This sign-in link was already opened in another browser, and only that browser can finish it. "+
				"If that was you, go back to it; otherwise start again from the app. Nothing was shared or changed.")
		return
	}
	if _, err := s.Connector.UserID(ctx, t.Identity); errors.Is(err, ErrNotConnected) {
		s.beginConnect(w, r, t, token)
		return
	} else if err != nil {
		s.Logger.Error("could not read the connection of an OAuth 1.0a request token", zap.Error(err))
		htmlpage.Write(w, http.StatusServiceUnavailable, "Try again", "The gateway could not read the connection. Please try again shortly.")
		return
	}
	switch first, err := s.reveal(ctx, token); {
	case err != nil:
		s.Logger.Error("could not record the verifier of an OAuth 1.0a request token as shown", zap.Error(err))
		htmlpage.Write(w, http.StatusServiceUnavailable, "Try again", "The gateway could not finish the authorization. Please try again shortly.")
		return
	case !first:
		htmlpage.Write(w, http.StatusBadRequest, "Already finished",
			"This sign-in was already finished and the app was given its code. If the app did not complete it, start again from the app.")
		return
	}
	if t.Callback == "oob" {
		htmlpage.Write(w, http.StatusOK, "Connected",
			"Your account is connected. Enter this code in the app to finish: "+t.Verifier)
		return
	}
	cb, _ := url.Parse(t.Callback) // checked at request_token
	q := cb.Query()
	q.Set("oauth_token", token)
	q.Set("oauth_verifier", t.Verifier)
	cb.RawQuery = q.Encode()
	http.Redirect(w, r, cb.String(), http.StatusFound)
}

// accessToken serves POST (and GET) <prefix>/access_token: a request signed
// with the consumer secret and the request token's secret, carrying the
// verifier, redeems the request token — once — for token credentials bound
// to the connected identity.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) *Error {
	if e := allowMethod(w, r, http.MethodPost, http.MethodGet); e != nil {
		return e
	}
	if d := s.TokenGate.Admit(r.Context(), s.clientIP(r), ""); !d.Allowed {
		return tooManyRequests(d.RetryAfter)
	}
	var t *requestToken
	sig, e := s.verify(r, func(p oauth1.Params, c Consumer) (string, *Error) {
		if p.Token == "" {
			return "", unauthorized(fieldNone, "oauth_problem=parameter_absent&oauth_parameters_absent=oauth_token")
		}
		var err error
		t, err = s.loadRequest(r.Context(), p.Token)
		if errors.Is(err, tokenstore.ErrNotFound) || err == nil && t.Consumer != c.Key {
			return "", s.failed(r.Context(), p, unauthorized(fieldAccessToken, "oauth_problem=token_rejected: unknown, used or expired request token"))
		}
		if err != nil {
			s.Logger.Error("could not read an OAuth 1.0a request token", zap.Error(err))
			return "", errStore
		}
		if d := s.TokenGate.Admit(r.Context(), "", t.Identity); !d.Allowed {
			return "", tooManyRequests(d.RetryAfter)
		}
		return t.Secret, nil
	})
	if e != nil {
		return e
	}
	// A wrong verifier leaves the request token as it was (the app or the
	// user may have mistyped an out-of-band code); guessing spends the
	// token's failure budget instead.
	if sig.Verifier == "" || subtle.ConstantTimeCompare([]byte(sig.Verifier), []byte(t.Verifier)) != 1 {
		return s.failed(r.Context(), sig.Params, unauthorized(fieldVerifier, "oauth_problem=verifier_invalid: the oauth_verifier does not belong to this request token"))
	}
	userID, err := s.Connector.UserID(r.Context(), t.Identity)
	if errors.Is(err, ErrNotConnected) {
		return unauthorized(fieldAccessToken, "oauth_problem=permission_unknown: the user has not finished authorizing this request token")
	} else if err != nil {
		s.Logger.Error("could not read the connection of an OAuth 1.0a request token", zap.Error(err))
		return errStore
	}
	// Redeem exactly once, across instances: of concurrent exchanges of
	// one request token only the one that takes the entry gets credentials.
	if _, err := s.Entries.TakeEntry(r.Context(), kindRequest, sig.Token); errors.Is(err, tokenstore.ErrNotFound) {
		return unauthorized(fieldAccessToken, "oauth_problem=token_used: this request token was already exchanged")
	} else if err != nil {
		s.Logger.Error("could not redeem an OAuth 1.0a request token", zap.Error(err))
		return errStore
	}
	token, secret := randomHex(16), randomHex(20)
	if err := IssueAccessToken(r.Context(), s.Entries, token, secret, sig.ConsumerKey, t.Identity, userID, s.now()); err != nil {
		s.Logger.Error("could not store an OAuth 1.0a access token", zap.Error(err))
		return errStore
	}
	s.Logger.Info("oauth1 access token issued", zap.String("consumer", sig.ConsumerKey),
		zap.String("identity_hash", tokenstore.IdentityHash(t.Identity)), zap.String("user_id", userID))
	formResponse(w, url.Values{
		"oauth_token":        {token},
		"oauth_token_secret": {secret},
		"encoded_user_id":    {userID},
	})
	return nil
}

// Authenticate verifies a signed API call and returns the identity its
// access token stands for and the provider user id. On success the OAuth
// parameters are gone from the request — Authorization header, query and
// form body — so they never reach the provider. A request without any OAuth
// parameters gets an error for which IsNoCredentials is true.
func (s *Server) Authenticate(r *http.Request) (identity, userID string, e *Error) {
	defer func() { s.observe("api", e) }()
	var at *accessToken
	_, e = s.verify(r, func(p oauth1.Params, c Consumer) (string, *Error) {
		if p.Token == "" {
			return "", unauthorized(fieldAccessToken, "oauth_problem=parameter_absent&oauth_parameters_absent=oauth_token")
		}
		var err error
		at, err = s.lookupAccess(r.Context(), p.Token)
		if errors.Is(err, tokenstore.ErrNotFound) || err == nil && at.Consumer != c.Key {
			return "", s.failed(r.Context(), p, unauthorized(fieldAccessToken, "oauth_problem=token_rejected: invalid access token"))
		}
		if err != nil {
			s.Logger.Error("could not read an OAuth 1.0a access token", zap.Error(err))
			return "", errStore
		}
		return at.Secret, nil
	})
	if e != nil {
		return "", "", e
	}
	if err := stripOAuth(r, s.MaxBody); err != nil {
		return "", "", requestError(err)
	}
	return at.Identity, at.UserID, nil
}

// allowMethod is a 405 error (with the Allow header set) unless r uses one
// of methods.
func allowMethod(w http.ResponseWriter, r *http.Request, methods ...string) *Error {
	for _, m := range methods {
		if r.Method == m {
			return nil
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	return &Error{Status: http.StatusMethodNotAllowed, FieldName: fieldNone, Message: "use " + strings.Join(methods, " or ")}
}
