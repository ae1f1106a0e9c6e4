package legacy

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// kindResume holds, per legacy identity, the authorize step a browser goes
// back to once the OAuth 2.0 consent it was sent to is done.
const kindResume = "oauth1_resume"

// identityPrefix marks the identities this front makes: one per request
// token, so the identity alone names the authorize step to resume.
const identityPrefix = "oauth1:"

// Resume returns the authorize step that the browser connecting identity
// goes back to, once: the OAuth 2.0 callback that ends the consent may be
// served by another handler or instance than the one that sent the browser
// there, so the step is kept in the shared store, beside the request token
// it belongs to, rather than in the connect flow's pending authorization.
func Resume(ctx context.Context, entries tokenstore.Entries, identity string) (next string, ok bool) {
	if !strings.HasPrefix(identity, identityPrefix) {
		return "", false
	}
	b, err := entries.TakeEntry(ctx, kindResume, identity)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// beginConnect sends the browser of request token token to connect its
// identity, to come back to this authorize step afterwards (Resume).
func (s *Server) beginConnect(w http.ResponseWriter, r *http.Request, t *requestToken, token string) {
	next := s.Prefix + "/authorize?oauth_token=" + url.QueryEscape(token)
	if err := s.Entries.PutEntry(r.Context(), kindResume, t.Identity, []byte(next), s.now().Add(s.RequestTokenTTL)); err != nil {
		s.Logger.Error("could not store where an OAuth 1.0a sign-in resumes", zap.Error(err))
		htmlpage.Write(w, http.StatusServiceUnavailable, "Try again", "The gateway could not save the sign-in. Please try again shortly.")
		return
	}
	s.Connector.Begin(w, r, t.Identity)
}
