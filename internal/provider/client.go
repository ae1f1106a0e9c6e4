package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
)

// Grant is what the token endpoint issued.
type Grant struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time
	ExpiresIn    time.Duration // the lifetime the answer gave (0 if none)
	// TokenExpiry is the access token's own exp claim when it is a JWT, as
	// Fitbit's are (zero otherwise). The token is opaque to the gateway; the
	// claim only tells when a pair replayed from the grace window, issued
	// earlier, really expires.
	TokenExpiry time.Time
	UserID      string            // Fitbit's user_id, or the identity endpoint's user field
	Scopes      []string          // granted; may be fewer than requested
	Extra       map[string]string // other ids from the identity endpoint (Google's legacyUserId)
}

// Client talks to one registration's authorization server.
type Client struct {
	Reg         Registration
	conf        *oauth2.Config
	recoverConf *oauth2.Config // conf, with the recovery URL as token URL
	http        *http.Client
	// Gone is whether the provider has turned its API off, shared by
	// everything that talks to it.
	Gone Gone
}

// DefaultTimeout bounds one call to the token or revoke endpoint.
const DefaultTimeout = 15 * time.Second

// NewClient returns a client for reg (which should be validated). httpClient
// may be nil for one with DefaultTimeout.
func NewClient(reg Registration, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	conf := &oauth2.Config{
		ClientID:    reg.ClientID,
		RedirectURL: reg.RedirectURL,
		Scopes:      reg.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  reg.Endpoints.AuthURL,
			TokenURL: reg.Endpoints.TokenURL,
		},
	}
	switch {
	case reg.Preset != nil && reg.Preset.SecretInBody:
		conf.ClientSecret = reg.ClientSecret
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	case reg.AppType == AppServer:
		conf.ClientSecret = reg.ClientSecret
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	default:
		// client and personal apps: client_id in the body, no secret.
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	recoverConf := *conf
	recoverConf.Endpoint.TokenURL = reg.Endpoints.RecoverURL
	return &Client{Reg: reg, conf: conf, recoverConf: &recoverConf, http: httpClient}
}

// AuthCodeURL is the provider's consent URL for state, with the S256 PKCE
// challenge of verifier and the preset's extra parameters. It asks for
// scopes, in the provider's own names, or for the registration's when
// scopes is nil (the connect flow's own /authorize).
func (c *Client) AuthCodeURL(state, verifier string, scopes []string) string {
	return c.ConsentURL(state, verifier, Consent{Scopes: scopes})
}

// Consent is what one authorize request asks of the user.
type Consent struct {
	// Scopes in the provider's names; nil: the registration's.
	Scopes []string
	// Login has the user sign in again, or choose the account, before
	// consenting (a Fitbit app's prompt=login): the preset's LoginPrompt.
	Login bool
}

// ConsentURL is AuthCodeURL for the consent c.
func (c *Client) ConsentURL(state, verifier string, consent Consent) string {
	scopes := consent.Scopes
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	prompt := ""
	if p := c.Reg.Preset; p != nil {
		for k, v := range p.AuthParams {
			if k == "prompt" {
				prompt = v
				continue
			}
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
		if consent.Login && p.LoginPrompt != "" {
			prompt = strings.TrimSpace(prompt + " " + p.LoginPrompt)
		}
	}
	if prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
	}
	conf := c.conf
	if scopes != nil {
		cp := *c.conf
		cp.Scopes = scopes
		conf = &cp
		if c.Reg.Preset != nil && c.Reg.Preset.IncrementalAuth {
			// The consent adds scopes to those the user granted before,
			// and the token then carries them all:
			// https://developers.google.com/identity/protocols/oauth2/web-server#incrementalAuth
			opts = append(opts, oauth2.SetAuthURLParam("include_granted_scopes", "true"))
		}
	}
	return conf.AuthCodeURL(state, opts...)
}

// ConsentScopes are the scopes, in the provider's own names, that the
// consent of an app asking for the Fitbit scopes asked asks for: asked
// mapped by the preset (Fitbit names to Google Health's), plus the
// preset's Always scopes, kept only where the registration's scopes allow
// them (a registration is what the operator agreed with the provider).
func (c *Client) ConsentScopes(asked []string) []string {
	var want []string
	if p := c.Reg.Preset; p != nil {
		want = append(want, asked...)
		if p.MapScopes != nil {
			want = p.MapScopes(want)
		}
		for _, s := range p.Always {
			if !slices.Contains(want, s) {
				want = append(want, s)
			}
		}
	} else {
		want = asked
	}
	out := []string{}
	for _, s := range want {
		if len(c.Reg.Scopes) == 0 || slices.Contains(c.Reg.Scopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// NewVerifier returns a fresh PKCE code verifier (43 characters).
func NewVerifier() string { return oauth2.GenerateVerifier() }

// Exchange trades an authorization code for a grant.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (*Grant, error) {
	tok, err := c.conf.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError(err)
	}
	g := grantOf(tok)
	if p := c.Reg.Preset; p != nil && p.IdentityPath != "" {
		if err := c.identify(ctx, g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Refresh redeems refreshToken for a new grant. Fitbit rotates the refresh
// token: after a success the old one is dead, so the caller must persist the
// returned grant before anything else.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Grant, error) {
	old := &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}
	tok, err := c.conf.TokenSource(c.ctx(ctx), old).Token()
	if err != nil {
		return nil, tokenError(err)
	}
	return grantOf(tok), nil
}

// Recover asks the provider's refresh-token recovery endpoint for a new pair
// for the user whose (possibly already rotated) refreshToken is given: the
// way back when a rotation was lost, e.g. the provider answered but the
// answer never reached the store. Fitbit enables it per app on request; its
// request is assumed to be a refresh grant sent to the recovery URL, and its
// answer a token response.
func (c *Client) Recover(ctx context.Context, refreshToken string) (*Grant, error) {
	old := &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}
	tok, err := c.recoverConf.TokenSource(c.ctx(ctx), old).Token()
	if err != nil {
		return nil, tokenError(err)
	}
	return grantOf(tok), nil
}

// Identify sets g's UserID and Extra from the provider's identity endpoint,
// for a preset that learns its user there (Google); for another it does
// nothing. It is how a connection made elsewhere (an import) learns the ids
// a code exchange would have given.
func (c *Client) Identify(ctx context.Context, g *Grant) error {
	if p := c.Reg.Preset; p == nil || p.IdentityPath == "" {
		return nil
	}
	return c.identify(ctx, g)
}

// identify asks the provider's identity endpoint who g's user is.
func (c *Client) identify(ctx context.Context, g *Grant) error {
	p := c.Reg.Preset
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Reg.Endpoints.APIBase+p.IdentityPath, nil)
	if err != nil {
		return fmt.Errorf("identity request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+g.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return tokenError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, apierror.MaxBody))
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{Status: resp.StatusCode, Message: "identity endpoint: " + http.StatusText(resp.StatusCode), Transient: resp.StatusCode == 429 || resp.StatusCode >= 500}
		if it, ok := apierror.Parse(body); ok {
			te.Code, te.Message = redact.Scrub(it.ErrorType), "identity endpoint: "+redact.Scrub(it.Message)
		}
		return te
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return &TokenError{Status: resp.StatusCode, Message: "identity endpoint answered something other than JSON"}
	}
	if id, ok := fields[p.IdentityUserField].(string); ok && id != "" {
		g.UserID = id
	} else {
		return &TokenError{Status: resp.StatusCode, Message: "identity endpoint named no user (" + p.IdentityUserField + ")"}
	}
	for field, key := range p.IdentityExtra {
		if v, ok := fields[field].(string); ok && v != "" {
			if g.Extra == nil {
				g.Extra = map[string]string{}
			}
			g.Extra[key] = v
		}
	}
	return nil
}

// Revoke revokes token and, at Fitbit, every token of that user for the app
// (RFC 7009). A token the provider no longer knows counts as revoked.
func (c *Client) Revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}}
	secretInBody := c.Reg.Preset != nil && c.Reg.Preset.SecretInBody
	if c.Reg.AppType != AppServer || secretInBody {
		form.Set("client_id", c.Reg.ClientID)
	}
	if secretInBody {
		form.Set("client_secret", c.Reg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Reg.Endpoints.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Reg.AppType == AppServer && !secretInBody {
		req.SetBasicAuth(url.QueryEscape(c.Reg.ClientID), url.QueryEscape(c.Reg.ClientSecret))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return tokenError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, apierror.MaxBody))
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode == http.StatusBadRequest:
		// RFC 7009 §2.2: an invalid token is not an error for revocation.
		if it, ok := apierror.Parse(body); ok && (it.ErrorType == apierror.InvalidGrant || it.ErrorType == apierror.InvalidToken) {
			return nil
		}
	}
	te := &TokenError{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode), Transient: resp.StatusCode == 429 || resp.StatusCode >= 500}
	if it, ok := apierror.Parse(body); ok {
		te.Code, te.Message = redact.Scrub(it.ErrorType), redact.Scrub(it.Message)
	}
	return te
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.http)
}

func grantOf(tok *oauth2.Token) *Grant {
	g := &Grant{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
		ExpiresIn:    time.Duration(tok.ExpiresIn) * time.Second,
	}
	g.TokenExpiry = jwtExpiry(tok.AccessToken)
	if uid, ok := tok.Extra("user_id").(string); ok {
		g.UserID = uid
	}
	if s, ok := tok.Extra("scope").(string); ok {
		g.Scopes = strings.Fields(s)
	}
	if g.TokenType == "" {
		g.TokenType = "Bearer"
	}
	return g
}

// jwtExpiry reads the exp claim of a JWT without verifying it (zero if the
// token is not a JWT or has none).
func jwtExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 4096 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}
	}
	exp, err := claims.Exp.Int64()
	if err != nil || exp <= 0 {
		return time.Time{}
	}
	return time.Unix(exp, 0)
}
