package fitbitsim

import (
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// recoveryDisabledMessage is the 403 message of a disabled recovery endpoint.
const recoveryDisabledMessage = "Refresh token recovery is not enabled for this application."

// SetRecoveryEnabled turns POST /oauth2/recover on or off at run time.
func (s *Server) SetRecoveryEnabled(on bool) { s.recovery.Store(on) }

// handleRecover is POST /oauth2/recover. Fitbit does not document the
// request, so the simulator assumes the token endpoint's client
// authentication and a body of refresh_token=<any refresh token of the
// user's, rotated or not> (+ optional expires_in), and answers exactly like
// a successful refresh. See the package documentation.
func (s *Server) handleRecover(w http.ResponseWriter, r *http.Request) {
	form, ok := oauthForm(w, r)
	if !ok {
		return
	}
	if !s.clientAuthenticated(r, form) {
		invalidClient(w)
		return
	}
	// Only an authenticated app learns whether it has the feature.
	if !s.recovery.Load() {
		apierror.Write(w, http.StatusForbidden, apierror.Item{
			ErrorType: apierror.InsufficientPermissions,
			Message:   recoveryDisabledMessage,
		})
		return
	}
	tok, life, ok := s.refreshParams(w, form)
	if !ok {
		return
	}
	body, ok := s.recoverChain(s.cfg.ClientID, tok, life)
	if !ok {
		s.stats.invalidGrants.Add(1)
		apierror.Write(w, http.StatusBadRequest, apierror.Item{
			ErrorType: apierror.InvalidGrant,
			Message:   "Refresh token invalid: " + tok + ". " + visit,
		})
		return
	}
	s.stats.recoveries.Add(1)
	writeToken(w, body)
}

// recoverChain rotates the chain of the user tok belongs to, whichever link
// tok is: the token only proves which user and app, which is the point of
// recovering from a lost rotation. The previously current refresh token
// dies as in a refresh, but without a grace replay: its holder lost the
// race to whoever recovered, and presenting it again is a reuse. A token
// that was explicitly revoked cannot recover anything.
func (s *Server) recoverChain(clientID, tok string, lifetime time.Duration) ([]byte, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh[simkit.SecretKey(tok)]
	if rt == nil || !simkit.Equal(rt.clientID, clientID) {
		return nil, false
	}
	if rt.revoked {
		s.logLocked(rt.userID, EventRejected, now)
		return nil, false
	}
	scopes := rt.scopes
	cur := s.current[rt.userID]
	if cur != nil {
		scopes = cur.scopes // the chain's present grant, not the old link's
	}
	body, next := s.issueLocked(rt.userID, rt.clientID, scopes, lifetime, now)
	if cur != nil && cur.state == rtActive {
		cur.state = rtRotated
		cur.rotatedAt = now
		cur.replay = nil
		cur.nextRefresh = next
	}
	s.userLocked(rt.userID).stats.Recoveries++
	s.logLocked(rt.userID, EventRecovered, now)
	return body, true
}
