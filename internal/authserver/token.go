package authserver

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// tokenAnswer is Fitbit's token response
// (https://dev.fitbit.com/build/reference/web-api/authorization/oauth2-token/).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	UserID       string `json:"user_id"`
}

// IssueCode makes the single-use code that the app, redirected to
// a.CodeRedirect(code), exchanges for tokens standing for identity, whose
// upstream connection has userID (the app's Fitbit user id). redirectGiven
// says whether the authorize request named its redirect_uri.
func (s *Server) IssueCode(ctx context.Context, a *Authorization, redirectGiven bool, identity, userID string) (string, error) {
	c := code{Client: a.App.ID, RedirectURI: a.RedirectURI, RedirectGiven: redirectGiven, Challenge: a.Challenge,
		Method: a.Method, Scopes: a.Scopes, Identity: identity, UserID: userID, Issued: s.now().UTC()}
	id := randomHex(20) // 40 hex, the shape of Fitbit's codes
	if err := s.put(ctx, kindCode, id, c, c.Issued.Add(s.CodeTTL)); err != nil {
		return "", err
	}
	return id, nil
}

// params are a request's form parameters, once the caller's address is
// within its budget; some old Fitbit clients sent them in the query instead
// of the body, which Fitbit accepted.
func (s *Server) params(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	if d := s.TokenGate.Admit(r.Context(), s.clientIP(r), ""); !d.Allowed {
		return nil, tooManyRequests(d.RetryAfter)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Error{Status: http.StatusMethodNotAllowed, ErrorType: "invalid_request", Message: "Use POST." + visit}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("The request body is not a valid form.")
	}
	return r.Form, nil
}

// token serves POST /oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) (client string, _ *Error) {
	p, app, e := s.request(w, r, false)
	if e != nil {
		return app.ID, e
	}
	if d := s.TokenGate.Admit(r.Context(), "", "client:"+app.ID); !d.Allowed {
		return app.ID, tooManyRequests(d.RetryAfter)
	}
	var ans *tokenAnswer
	switch p.Get("grant_type") {
	case "authorization_code":
		ans, e = s.exchange(r.Context(), app, p)
	case "refresh_token":
		ans, e = s.refresh(r.Context(), app, p)
	case "":
		return app.ID, missing("grant_type")
	default:
		return app.ID, &Error{Status: http.StatusBadRequest, ErrorType: "unsupported_grant_type",
			Message: "Unsupported grant_type: use authorization_code or refresh_token." + visit}
	}
	if e != nil {
		return app.ID, e
	}
	writeJSON(w, ans)
	return app.ID, nil
}

// lifetime is the access token lifetime asked for: Fitbit took
// expires_in=3600 or 28800 at the token endpoint, 28800 by default; the
// app's own lifetime, when the operator set one, replaces the default.
func (s *Server) lifetime(app App, p url.Values) time.Duration {
	ttl := cmp.Or(app.AccessTTL, s.AccessTTL)
	if p.Get("expires_in") == "3600" && ttl > time.Hour {
		return time.Hour
	}
	return ttl
}

// exchange redeems a code (RFC 6749 §4.1.3, RFC 7636 §4.6). The code is
// checked before it is taken, so a request that fails (another app's, a
// wrong verifier or redirect URI) cannot spend the rightful app's code; of
// concurrent correct exchanges, the one that takes it wins.
func (s *Server) exchange(ctx context.Context, app App, p url.Values) (*tokenAnswer, *Error) {
	id := p.Get("code")
	if id == "" {
		return nil, missing("code")
	}
	var c code
	switch err := s.get(ctx, kindCode, id, &c); {
	case errors.Is(err, tokenstore.ErrNotFound):
		return nil, s.codeReused(ctx, id)
	case err != nil:
		s.Logger.Error("could not read an OAuth 2.0 code", zap.Error(err))
		return nil, errStore
	}
	errCode := invalidGrant("Authorization code invalid.")
	switch redirect := p.Get("redirect_uri"); {
	case c.Client != app.ID:
		return nil, errCode
	case s.now().Sub(c.Issued) >= s.CodeTTL:
		return nil, invalidGrant("Authorization code expired.")
	case redirect == "" && c.RedirectGiven:
		return nil, missing("redirect_uri")
	case redirect != "" && redirect != c.RedirectURI:
		return nil, invalidGrant("Invalid redirect_uri parameter value.")
	}
	verifier := p.Get("code_verifier")
	switch {
	case c.Challenge == "" && verifier != "":
		// RFC 9700 §2.1.1: a verifier without a challenge is a PKCE
		// downgrade attempt.
		return nil, invalidGrant("A code_verifier was sent for a code requested without a code_challenge.")
	case c.Challenge != "" && verifier == "":
		return nil, missing("code_verifier")
	case c.Challenge != "" && !verifierMatches(c.Method, c.Challenge, verifier):
		return nil, invalidGrant("Code verifier invalid.")
	}
	if _, err := s.Entries.TakeEntry(ctx, kindCode, id); errors.Is(err, tokenstore.ErrNotFound) {
		return nil, errCode
	} else if err != nil {
		s.Logger.Error("could not redeem an OAuth 2.0 code", zap.Error(err))
		return nil, errStore
	}
	now := s.now().UTC()
	grantID := randomHex(16)
	if err := s.put(ctx, kindCodeUsed, id, grantID, now.Add(s.CodeTTL)); err != nil {
		s.Logger.Error("could not record an OAuth 2.0 code as used", zap.Error(err))
		return nil, errStore
	}
	g := &grant{GrantTerms: GrantTerms{Client: app.ID, Scopes: c.Scopes, UserID: c.UserID, Created: now}, Identity: c.Identity}
	if err := s.put(ctx, kindGrant, grantID, g, time.Time{}); err != nil {
		s.Logger.Error("could not store an OAuth 2.0 grant", zap.Error(err))
		return nil, errStore
	}
	switch err := grantIndex(s.Entries).Add(ctx, tokenstore.IdentityHash(g.Identity), []byte(grantID)); {
	case errors.Is(err, tokenstore.ErrIndexFull):
		// The grant works; only the operator's list of the identity's
		// grants (the admin API) will not show it.
		s.Logger.Warn("an identity has too many OAuth 2.0 grants to list them all; this one is not listed",
			zap.String("identity_hash", tokenstore.IdentityHash(g.Identity)), zap.Int("listed", tokenstore.MaxIndexSlots))
	case err != nil:
		s.Logger.Error("could not index an OAuth 2.0 grant", zap.Error(err))
		return nil, errStore
	}
	ans, err := s.issue(ctx, grantID, g, 0, randomHex(32), randomHex(32), s.lifetime(app, p))
	if err != nil {
		s.Logger.Error("could not store OAuth 2.0 tokens", zap.Error(err))
		return nil, errStore
	}
	s.Logger.Info("oauth2 tokens issued", zap.String("client", app.ID),
		zap.String("identity_hash", tokenstore.IdentityHash(g.Identity)), zap.String("user_id", g.UserID))
	return ans, nil
}

// codeReused answers a code that is not waiting: unknown, expired, or
// already exchanged. In the last case the tokens it gave are revoked
// (RFC 6749 §4.1.2, RFC 9700 §4.5): whoever holds it twice may have stolen it.
func (s *Server) codeReused(ctx context.Context, id string) *Error {
	var grantID string
	if err := s.get(ctx, kindCodeUsed, id, &grantID); err == nil {
		if err := s.revokeGrant(ctx, grantID); err != nil {
			s.Logger.Error("could not revoke the grant of a reused OAuth 2.0 code", zap.Error(err))
			return errStore
		}
		s.Logger.Warn("oauth2 code used twice; its grant is revoked")
	}
	return invalidGrant("Authorization code invalid.")
}

// issue stores generation gen's tokens of grant grantID and returns the
// answer. Writing them again (a concurrent or repeated rotation) is
// harmless: the same tokens, the same records.
func (s *Server) issue(ctx context.Context, grantID string, g *grant, gen int, accessToken, refreshToken string, ttl time.Duration) (*tokenAnswer, error) {
	now := s.now().UTC()
	a := access{Grant: grantID, Generation: gen, Issued: now, Expires: now.Add(ttl)}
	if err := s.put(ctx, kindAccess, accessToken, a, a.Expires.Add(expiredRetention)); err != nil {
		return nil, err
	}
	if err := s.put(ctx, kindRefresh, refreshToken, refresh{Grant: grantID, Generation: gen, Issued: now}, time.Time{}); err != nil {
		return nil, err
	}
	return answer(g, accessToken, refreshToken, ttl), nil
}

func answer(g *grant, accessToken, refreshToken string, expiresIn time.Duration) *tokenAnswer {
	return &tokenAnswer{AccessToken: accessToken, ExpiresIn: int64(expiresIn / time.Second), RefreshToken: refreshToken,
		Scope: strings.Join(g.Scopes, " "), TokenType: "Bearer", UserID: g.UserID}
}
