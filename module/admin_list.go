package module

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// GET /fitbit/connections[?provider=][&health=][&after=][&limit=]: the
// stored connections a page at a time, in the store's stable order
// (tokenstore.Inventory), each as GET /fitbit/connections/{provider}/{hash}
// answers it. health keeps those of one health (needs_reauth: those that
// need re-authorization); a page may then hold fewer than limit, and next
// goes on from where the store's page ended.
func init() {
	adminRoutes = append(adminRoutes, adminRoute{Method: "GET", Pattern: "/fitbit/connections", Handle: adminListConnections})
}

// connectionPage is a page of connections; Next is the cursor of the next
// page ("" on the last).
type connectionPage struct {
	Connections []connectionView `json:"connections"`
	Next        string           `json:"next,omitempty"`
}

// healths are the values of connectionView.Health.
var healths = []string{string(tokenstore.StatusOK), string(tokenstore.StatusNeedsReauth), "refresh_unfinished", "unreadable"}

func adminListConnections(app *App, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := tokenstore.ListQuery{Provider: q.Get("provider"), After: q.Get("after")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("limit must be a number")}
		}
		lq.Limit = n
	}
	lq, err := lq.Normalize()
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	health := q.Get("health")
	if health != "" && !slices.Contains(healths, health) {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("health must be ok, needs_reauth, refresh_unfinished or unreadable")}
	}
	keys, next, err := app.store().ListConnections(r.Context(), lq)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	page := connectionPage{Connections: []connectionView{}, Next: next}
	for _, k := range keys {
		var v connectionView
		rec, err := app.store().LoadConnection(r.Context(), k)
		switch {
		case errors.Is(err, tokenstore.ErrNotFound):
			continue // deleted since it was listed
		case errors.Is(err, tokenstore.ErrUnreadable):
			v = connectionView{connectionName: connectionName{k.Provider, k.IdentityHash}, Scopes: []string{}, Health: "unreadable"}
		case err != nil:
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		default:
			v = viewOf(rec)
			if m, err := app.manager(k.Provider); err == nil {
				v = withLastUse(r.Context(), m, v)
			}
		}
		if health == "" || v.Health == health {
			page.Connections = append(page.Connections, v)
		}
	}
	return writeAdminJSON(w, http.StatusOK, page)
}
