package fitbitsim

import (
	"net/http"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
)

// SetGone turns the simulated Web API and OAuth endpoints off, as Fitbit
// did after the Google Health API replaced it: every request answers
// 410 Gone. SetGone(false) turns them back on.
func (s *Server) SetGone(gone bool) { s.gone.Store(gone) }

// serveGone answers a request while the API is turned off.
func serveGone(w http.ResponseWriter) {
	apierror.Write(w, http.StatusGone, apierror.Item{ErrorType: "gone",
		Message: "The Fitbit Web API has been turned off. Use the Google Health API: https://developers.google.com/health"})
}
