package fitbitsim

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// authCode is an authorization code, single-use and valid for codeLifetime.
type authCode struct {
	clientID      string
	redirectURI   string
	redirectGiven bool // redirect_uri was in the authorization request
	challenge     string
	userID        string
	scopes        []string
	expires       time.Time
	used          bool
}

const codeLifetime = 10 * time.Minute

// accessToken is the server-side state of an issued JWT.
type accessToken struct {
	jti           string
	userID        string
	clientID      string
	scopes        []string
	iat, exp      time.Time
	used          bool // presented successfully to the API
	revoked       bool
	forcedExpired bool // ExpireAccessTokens
}

type refreshState int

const (
	rtActive  refreshState = iota // the user's current refresh token
	rtRotated                     // used once; only the grace window can replay it
	rtRevoked                     // revoked, or superseded by a new code exchange
)

// refreshToken is one link of a user's rotation chain.
type refreshToken struct {
	userID   string
	clientID string
	scopes   []string
	state    refreshState
	revoked  bool         // explicitly revoked (not merely superseded): recovery refuses it
	access   *accessToken // issued together with this refresh token

	// Set when rotated: what the rotation answered, for grace replays. A
	// chain rotated by recovery has no replay, so it has no grace either.
	rotatedAt   time.Time
	replay      []byte
	nextRefresh *refreshToken
}

// userState is everything the simulator keeps about one user.
type userState struct {
	access  []*accessToken
	refresh []*refreshToken
	stats   UserStats
	logs    map[string][]map[string]any // activity logs by date
	body    bodyWrites                  // weight and fat logs written or deleted
	events  []RefreshEvent              // RefreshLog
}

func (s *Server) userLocked(id string) *userState {
	u := s.byUser[id]
	if u == nil {
		u = &userState{logs: map[string][]map[string]any{}}
		s.byUser[id] = u
	}
	return u
}

// TokenResponse is the token endpoint's success body, in Fitbit's field order.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	UserID       string `json:"user_id"`
}

// issueLocked mints an access token and a refresh token for user and returns
// the encoded response. The caller holds s.mu and has dealt with the chain.
func (s *Server) issueLocked(userID, clientID string, scopes []string, lifetime time.Duration, now time.Time) ([]byte, *refreshToken) {
	now = now.Truncate(time.Second)
	at := &accessToken{
		jti:      simkit.RandomHex(16),
		userID:   userID,
		clientID: clientID,
		scopes:   scopes,
		iat:      now,
		exp:      now.Add(lifetime),
	}
	jwt := signJWT(s.key, jwtClaims{
		Aud:    clientID,
		Sub:    userID,
		Iss:    "Fitbit",
		Typ:    "access_token",
		Scopes: jwtScopes(scopes),
		Exp:    at.exp.Unix(),
		Iat:    at.iat.Unix(),
		Jti:    at.jti,
	})
	rtStr := simkit.RandomHex(32)
	s.Issued.Add(jwt, rtStr)
	rt := &refreshToken{userID: userID, clientID: clientID, scopes: scopes, state: rtActive, access: at}
	s.access[at.jti] = at
	s.refresh[simkit.SecretKey(rtStr)] = rt
	s.current[userID] = rt
	u := s.userLocked(userID)
	u.access = append(u.access, at)
	u.refresh = append(u.refresh, rt)
	body, _ := json.Marshal(TokenResponse{
		AccessToken:  jwt,
		ExpiresIn:    int64(lifetime / time.Second),
		RefreshToken: rtStr,
		Scope:        strings.Join(scopes, " "),
		TokenType:    "Bearer",
		UserID:       userID,
	})
	return body, rt
}

// startChainLocked ends the user's current chain (one active refresh token
// per user per app) and issues a fresh pair.
func (s *Server) startChainLocked(userID, clientID string, scopes []string, lifetime time.Duration, now time.Time) []byte {
	if old := s.current[userID]; old != nil && old.state == rtActive {
		old.state = rtRevoked
	}
	body, _ := s.issueLocked(userID, clientID, scopes, lifetime, now)
	return body
}

// MintTokens issues a token pair for user with the given scopes as if the
// user had just completed the code flow (the user's previous refresh token
// dies). It does not count as an authorization or a code exchange. Unknown
// scopes are dropped; no scopes means every valid scope.
func (s *Server) MintTokens(userID string, scopes ...string) TokenResponse {
	if userID == "" {
		userID = s.cfg.DefaultUser
	}
	scopes = simkit.IntersectScopes(ValidScopes(), scopes)
	if len(scopes) == 0 {
		scopes = ValidScopes()
	}
	now := s.now()
	s.mu.Lock()
	body := s.startChainLocked(userID, s.cfg.ClientID, scopes, time.Duration(s.tokenLifetime.Load()), now)
	s.logLocked(userID, EventMinted, now)
	s.mu.Unlock()
	var tr TokenResponse
	_ = json.Unmarshal(body, &tr)
	return tr
}

type refreshOutcome int

const (
	refreshRotated refreshOutcome = iota
	refreshReplayed
	refreshReused  // rotated token presented outside the grace (or grace void)
	refreshInvalid // unknown, revoked or superseded
)

// rotate implements single-use rotation with Fitbit's grace window.
func (s *Server) rotate(clientID, tok string, lifetime time.Duration) ([]byte, refreshOutcome) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh[simkit.SecretKey(tok)]
	if rt == nil || !simkit.Equal(rt.clientID, clientID) {
		return nil, refreshInvalid
	}
	switch rt.state {
	case rtActive:
		body, next := s.issueLocked(rt.userID, rt.clientID, rt.scopes, lifetime, now)
		rt.state = rtRotated
		rt.rotatedAt = now
		rt.replay = body
		rt.nextRefresh = next
		s.userLocked(rt.userID).stats.Refreshes++
		s.logLocked(rt.userID, EventRotated, now)
		return body, refreshRotated
	case rtRotated:
		n := rt.nextRefresh
		inGrace := s.cfg.GraceWindow > 0 && !now.After(rt.rotatedAt.Add(s.cfg.GraceWindow))
		if inGrace && rt.replay != nil && n.state == rtActive && !n.access.used && !n.access.revoked {
			s.userLocked(rt.userID).stats.GraceReplays++
			s.logLocked(rt.userID, EventGrace, now)
			return rt.replay, refreshReplayed
		}
		s.userLocked(rt.userID).stats.RefreshReuseRejected++
		s.logLocked(rt.userID, EventReuseRejected, now)
		return nil, refreshReused
	default:
		s.logLocked(rt.userID, EventRejected, now)
		return nil, refreshInvalid
	}
}

type accessStatus int

const (
	accessOK accessStatus = iota
	accessInvalid
	accessExpired
)

// checkAccess validates a bearer token. It returns the token's state when
// the signature is good (even if expired or revoked) so callers can still
// attribute the request to a user.
func (s *Server) checkAccess(tok string, markUsed bool) (*accessToken, accessStatus) {
	c, ok := verifyJWT(s.key, tok)
	if !ok {
		return nil, accessInvalid
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.access[c.Jti]
	if at == nil {
		return nil, accessInvalid
	}
	if at.revoked {
		return at, accessInvalid
	}
	if at.forcedExpired || !now.Before(at.exp) {
		return at, accessExpired
	}
	if markUsed {
		at.used = true
	}
	return at, accessOK
}

// revokeUserLocked revokes every token the user holds.
func (s *Server) revokeUserLocked(userID string, now time.Time) {
	u := s.byUser[userID]
	if u == nil {
		return
	}
	for _, at := range u.access {
		at.revoked = true
	}
	for _, rt := range u.refresh {
		rt.state = rtRevoked
		rt.revoked = true
	}
	delete(s.current, userID)
	s.logLocked(userID, EventRevoked, now)
}

// RevokeUser revokes all tokens of the user: the next refresh (and a
// recovery with any of them) answers 400 invalid_grant and the API answers
// 401 invalid_token.
func (s *Server) RevokeUser(userID string) {
	now := s.now()
	s.mu.Lock()
	s.revokeUserLocked(userID, now)
	s.mu.Unlock()
}

// ExpireAccessTokens makes every access token issued so far to the user
// answer 401 expired_token. Refresh tokens are untouched; tokens issued
// later are not affected.
func (s *Server) ExpireAccessTokens(userID string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byUser[userID]; u != nil {
		for _, at := range u.access {
			at.forcedExpired = true
		}
		s.logLocked(userID, EventAccessExpired, now)
	}
}
