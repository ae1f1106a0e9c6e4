package connect

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// disconnect deletes identity's connection to mgr and revokes it, for r,
// and records it on the audit log; the error is the store's, logged here.
// Both the status API's and the connections page's disconnects come here.
func (f *Flow) disconnect(r *http.Request, mgr *tokens.Manager, identity string) (tokens.Disconnection, error) {
	d, err := mgr.Disconnect(r.Context(), identity)
	if err != nil {
		f.log().Error("disconnect: the store could not delete the connection", zap.String("identity_hash", tokenstore.IdentityHash(identity)), zap.Error(err))
		return d, err
	}
	f.Audit.Record(r, audit.Entry{Action: audit.Disconnect, Provider: mgr.Provider().Reg.Name, IdentityHash: tokenstore.IdentityHash(identity),
		UserID: d.UserID, Result: d.Result()})
	return d, nil
}

// admitForm checks a form post of the connections page: a bounded body and
// a valid CSRF token. It answers the request itself when either fails.
func (f *Flow) admitForm(w http.ResponseWriter, r *http.Request, identity string) bool {
	if err := parseForm(w, r); err != nil {
		f.page(w, http.StatusBadRequest, "Invalid form", "The gateway could not read this form. Go back to your connections page and try again.")
		return false
	}
	switch err := f.checkCSRF(r, identity); {
	case errors.Is(err, errCSRF):
		f.log().Warn("form post refused: CSRF check failed", zap.String("identity_hash", tokenstore.IdentityHash(identity)),
			zap.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")), zap.String("origin", r.Header.Get("Origin")))
		f.page(w, http.StatusForbidden, "Refused", "This button was not pressed on your connections page in this browser (or the page is too old), so the gateway did nothing. Open your connections page and try again.")
		return false
	case err != nil:
		f.log().Error("form post: could not read the CSRF key", zap.Error(err))
		f.page(w, http.StatusServiceUnavailable, "Try again", "The gateway could not check this form. Please try again shortly.")
		return false
	}
	return true
}

// disconnectPage is Disconnect for a browser: the connections page's
// disconnect button, answered with a result page.
func (f *Flow) disconnectPage(w http.ResponseWriter, r *http.Request, identity string) {
	if identity == "" {
		f.page(w, http.StatusUnauthorized, "Sign in first", "The gateway could not tell who you are. Sign in to the gateway, then open your connections page again.")
		return
	}
	mgr, ok := f.manager(r)
	if !ok {
		f.page(w, http.StatusBadRequest, "Unknown provider", "This gateway has no such provider. Go back to your connections page.")
		return
	}
	if !f.admitForm(w, r, identity) {
		return
	}
	title := mgr.Provider().Reg.Title()
	facts := []htmlpage.Fact{{Label: "Provider", Value: title}}
	if rec, err := mgr.Lookup(r.Context(), identity); err == nil {
		facts = append(facts, htmlpage.Fact{Label: "Account", Value: rec.UserID}, htmlpage.Fact{Label: "It allowed", Values: scopesInWords(rec.Scopes)})
	}
	d, err := f.disconnect(r, mgr, identity)
	switch {
	case err != nil:
		f.page(w, http.StatusServiceUnavailable, "Not disconnected yet", "The gateway's store is unavailable, so the connection to "+title+" is not deleted yet. Please try again shortly.", facts...)
	case !d.Existed:
		f.page(w, http.StatusOK, "Disconnected", "There was no connection to "+title+" to delete; nothing is stored.", facts...)
	case d.Revoked:
		f.page(w, http.StatusOK, "Disconnected", "The gateway deleted your connection to "+title+", and "+title+" confirmed it revoked the gateway's access.", facts...)
	default:
		text := "The gateway deleted your connection to " + title + ", but " + title + " did not confirm the revocation: " + redact.Scrub(trim(d.Message, 200)) + "."
		if d.RetryQueued {
			text += " The gateway keeps trying."
		}
		f.page(w, http.StatusOK, "Disconnected", text, facts...)
	}
}
