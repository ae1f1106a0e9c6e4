package googlesim

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// Token formats, close to Google's: access tokens start "ya29.", refresh
// tokens "1//", authorization codes "4/0" (codes contain a slash, so a
// client must URL-decode the redirect correctly).
const (
	accessPrefix  = "ya29.a0"
	refreshPrefix = "1//0"
	codePrefix    = "4/0A"
)

// authCode is an authorization code, single-use and valid for codeLifetime.
type authCode struct {
	redirectURI string
	challenge   string
	method      string // "S256" or "plain" when challenge is set
	userID      string
	scopes      []string
	offline     bool // the exchange returns a refresh token
	expires     time.Time
	used        bool
}

const codeLifetime = 10 * time.Minute

// accessToken is the server-side state of an issued access token.
type accessToken struct {
	userID        string
	scopes        []string
	exp           time.Time
	revoked       bool
	forcedExpired bool // ExpireAccessTokens
}

// refreshToken is one of a user's refresh tokens. Google keeps several
// alive at once (one per offline consent), up to MaxRefreshTokensPerUser.
type refreshToken struct {
	userID   string
	scopes   []string
	issued   time.Time
	lastUsed time.Time
	expires  time.Time // zero: no fixed lifetime
	dead     bool      // revoked, rotated away or evicted
}

func (rt *refreshToken) live(now time.Time) bool {
	return !rt.dead && (rt.expires.IsZero() || now.Before(rt.expires)) &&
		now.Sub(rt.lastUsed) < RefreshTokenIdleLimit
}

// userState is everything the simulator keeps about one user.
type userState struct {
	grant   []string // scopes the user has granted the client; nil: no grant
	access  []*accessToken
	refresh []*refreshToken
	stats   UserStats
	written overlay // data points created and deleted through the API
}

func (s *Server) userLocked(id string) *userState {
	u := s.byUser[id]
	if u == nil {
		u = &userState{}
		s.byUser[id] = u
	}
	return u
}

// TokenResponse is the token endpoint's success body, in Google's field
// order. RefreshToken is empty (and absent from the JSON) when Google
// sends none: code exchanges without offline access and, unless rotation
// is on, every refresh.
type TokenResponse struct {
	AccessToken           string `json:"access_token"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshToken          string `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in,omitempty"`
	Scope                 string `json:"scope"`
	TokenType             string `json:"token_type"`
}

// expiresIn is what Google reports for a lifetime: one second less (an
// hour is "expires_in": 3599).
func expiresIn(d time.Duration) int64 {
	return max(int64(d/time.Second)-1, 1)
}

// issueAccessLocked mints an access token. The caller holds s.mu.
func (s *Server) issueAccessLocked(userID string, scopes []string, now time.Time) (string, time.Duration) {
	life := time.Duration(s.tokenLifetime.Load())
	tok := accessPrefix + simkit.RandomB64(96)
	at := &accessToken{userID: userID, scopes: scopes, exp: now.Add(life)}
	s.access[simkit.SecretKey(tok)] = at
	u := s.userLocked(userID)
	u.access = append(u.access, at)
	s.Issued.Add(tok)
	return tok, life
}

// issueRefreshLocked mints a refresh token, evicting the user's oldest live
// one beyond MaxRefreshTokensPerUser. The caller holds s.mu.
func (s *Server) issueRefreshLocked(userID string, scopes []string, now time.Time) string {
	tok := refreshPrefix + simkit.RandomB64(72)
	rt := &refreshToken{userID: userID, scopes: scopes, issued: now, lastUsed: now}
	if s.cfg.RefreshTokenLifetime > 0 {
		rt.expires = now.Add(s.cfg.RefreshTokenLifetime)
	}
	u := s.userLocked(userID)
	live := u.refresh[:0]
	for _, old := range u.refresh {
		if old.live(now) {
			live = append(live, old)
		} else {
			old.dead = true
		}
	}
	for len(live) >= MaxRefreshTokensPerUser {
		live[0].dead = true
		live = live[1:]
	}
	u.refresh = append(live, rt)
	s.refresh[simkit.SecretKey(tok)] = rt
	s.Issued.Add(tok)
	return tok
}

// tokenResponseLocked issues an access token (and a refresh token if
// withRefresh) and returns the response.
func (s *Server) tokenResponseLocked(userID string, scopes []string, withRefresh bool, now time.Time) TokenResponse {
	at, life := s.issueAccessLocked(userID, scopes, now)
	tr := TokenResponse{
		AccessToken: at,
		ExpiresIn:   expiresIn(life),
		Scope:       strings.Join(scopes, " "),
		TokenType:   "Bearer",
	}
	if withRefresh {
		tr.RefreshToken = s.issueRefreshLocked(userID, scopes, now)
		if s.cfg.RefreshTokenLifetime > 0 {
			tr.RefreshTokenExpiresIn = expiresIn(s.cfg.RefreshTokenLifetime)
		}
	}
	return tr
}

// hasLiveRefreshLocked reports whether the user holds a live refresh token.
func (s *Server) hasLiveRefreshLocked(userID string, now time.Time) bool {
	if u := s.byUser[userID]; u != nil {
		for _, rt := range u.refresh {
			if rt.live(now) {
				return true
			}
		}
	}
	return false
}

// MintTokens issues tokens for user with the given scopes as if the user
// had just completed an offline code flow with prompt=consent (a refresh
// token is always included). Scopes may be full URLs or short
// "<area>.readonly" forms; unknown ones are dropped and none means every
// Health scope. It does not count as an authorization or a code exchange.
func (s *Server) MintTokens(userID string, scopes ...string) TokenResponse {
	if userID == "" {
		userID = s.cfg.DefaultUser
	}
	var granted []string
	for _, sc := range scopes {
		if full, ok := s.normalizeScope(sc); ok {
			granted = append(granted, full)
		}
	}
	if len(granted) == 0 {
		granted = s.AllScopes()
	}
	granted = simkit.UnionScopes(granted, nil)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(userID)
	u.grant = simkit.UnionScopes(u.grant, granted)
	return s.tokenResponseLocked(userID, granted, true, now)
}

type refreshOutcome int

const (
	refreshOK refreshOutcome = iota
	refreshInvalid
)

// refreshLocked runs a refresh_token grant.
func (s *Server) refreshGrantLocked(tok string, now time.Time) (TokenResponse, string, refreshOutcome) {
	rt := s.refresh[simkit.SecretKey(tok)]
	if rt == nil || !rt.live(now) {
		if rt != nil {
			s.userLocked(rt.userID).stats.InvalidGrants++
			return TokenResponse{}, rt.userID, refreshInvalid
		}
		return TokenResponse{}, "", refreshInvalid
	}
	rt.lastUsed = now
	u := s.userLocked(rt.userID)
	u.stats.Refreshes++
	tr := s.tokenResponseLocked(rt.userID, rt.scopes, false, now)
	if s.cfg.RotateRefreshTokens {
		rt.dead = true
		tr.RefreshToken = s.issueRefreshLocked(rt.userID, rt.scopes, now)
		if s.cfg.RefreshTokenLifetime > 0 {
			tr.RefreshTokenExpiresIn = expiresIn(s.cfg.RefreshTokenLifetime)
		}
		u.stats.RefreshTokensIssued++
	}
	return tr, rt.userID, refreshOK
}

type accessStatus int

const (
	accessOK accessStatus = iota
	accessMissing
	accessInvalid // unknown, malformed or revoked
	accessExpired
)

// checkAccess validates a bearer token. It returns the token's state for a
// known token even if expired or revoked, so the request can still be
// attributed to a user.
func (s *Server) checkAccess(tok string) (*accessToken, accessStatus) {
	if tok == "" {
		return nil, accessMissing
	}
	if len(tok) > maxTokenLen {
		return nil, accessInvalid
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.access[simkit.SecretKey(tok)]
	switch {
	case at == nil:
		return nil, accessInvalid
	case at.revoked:
		return at, accessInvalid
	case at.forcedExpired || !now.Before(at.exp):
		return at, accessExpired
	}
	return at, accessOK
}

// maxTokenLen bounds the tokens the simulator looks up.
const maxTokenLen = 4096

// revokeUserLocked revokes the user's grant: every access token, refresh
// token and outstanding authorization code.
func (s *Server) revokeUserLocked(userID string) {
	u := s.byUser[userID]
	if u != nil {
		for _, at := range u.access {
			at.revoked = true
		}
		for _, rt := range u.refresh {
			rt.dead = true
		}
		u.refresh = nil
		u.grant = nil
	}
	for _, c := range s.codes {
		if c.userID == userID {
			c.used = true
		}
	}
}

// RevokeUser revokes the user's grant as if the user removed the app's
// access in their Google account: refreshes answer 400 invalid_grant, the
// API answers 401, and the next authorization counts as a first consent.
func (s *Server) RevokeUser(userID string) {
	s.mu.Lock()
	s.revokeUserLocked(userID)
	s.mu.Unlock()
}

// ExpireAccessTokens makes every access token issued so far to the user
// answer 401 UNAUTHENTICATED. Refresh tokens are untouched; tokens issued
// later are not affected.
func (s *Server) ExpireAccessTokens(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byUser[userID]; u != nil {
		for _, at := range u.access {
			at.forcedExpired = true
		}
	}
}

// Grant returns the scopes the user has currently granted the client
// (nil when there is no grant, e.g. after revocation).
func (s *Server) Grant(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byUser[userID]; u != nil {
		return append([]string(nil), u.grant...)
	}
	return nil
}

// LiveRefreshTokens returns how many live refresh tokens the user holds.
func (s *Server) LiveRefreshTokens(userID string) int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if u := s.byUser[userID]; u != nil {
		for _, rt := range u.refresh {
			if rt.live(now) {
				n++
			}
		}
	}
	return n
}

func marshalToken(tr TokenResponse) []byte {
	b, _ := json.Marshal(tr)
	return b
}
