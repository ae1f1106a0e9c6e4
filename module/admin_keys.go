package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/rekey"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The keys of the admin API: which encryption key seals how many records,
// check and rekey (streamed as JSON Lines: progress, each line with the
// cursor to resume from, then a summary), and the records no key opens.
// The logic is internal/rekey's; see README › Operations › Key rotation.
func init() { adminRoutes = append(adminRoutes, keyRoutes...) }

var keyRoutes = []adminRoute{
	{Method: "GET", Pattern: "/fitbit/keys", Handle: adminKeys},
	{Method: "POST", Pattern: "/fitbit/check", Handle: adminWalk(false)},
	{Method: "POST", Pattern: "/fitbit/rekey", Handle: adminWalk(true)},
	{Method: "GET", Pattern: "/fitbit/unreadable", Handle: adminUnreadable},
	// A connection or an entry: /connection/<provider>/<hash>,
	// /entry/<kind>/<hash>; a pending authorization: /pending/<hash>.
	{Method: "DELETE", Pattern: "/fitbit/unreadable/{kind}/{first}/{second}", Handle: adminDeleteUnreadable},
	{Method: "DELETE", Pattern: "/fitbit/unreadable/pending/{hash}", Handle: adminDeleteUnreadable},
}

// walkPage is the page of the admin API's walks: the largest, as each page
// of a file-system store lists its directory.
const walkPage = tokenstore.MaxListLimit

// walker is the app's check and rekey over its store and keyring.
func (a *App) walker() *rekey.Walker {
	return &rekey.Walker{Store: a.state.store, Keys: a.state.keys}
}

// keyView is one key of GET /fitbit/keys.
type keyView struct {
	KeyID string `json:"key_id"`
	// Primary: it seals what is written now. Configured: it is in
	// encryption_keys (false: records name a key this instance lacks).
	Primary    bool `json:"primary"`
	Configured bool `json:"configured"`
	rekey.Counts
}

// keysView is GET /fitbit/keys.
type keysView struct {
	Keys []keyView `json:"keys"`
	// Unreadable counts the records no configured key opens (GET
	// /fitbit/unreadable lists them).
	Unreadable int `json:"unreadable"`
	// Done: every record is sealed by the primary key; the others can be
	// removed from encryption_keys.
	Done      bool      `json:"done"`
	CountedAt time.Time `json:"counted_at"`
}

// adminKeys counts, now, the records each key seals (a check that writes
// nothing), and publishes the counts to the gauges of every instance.
func adminKeys(app *App, w http.ResponseWriter, r *http.Request) error {
	sum, err := app.walker().Check(r.Context(), rekey.Options{PageSize: walkPage, MaxUnreadable: 1})
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("counting the records: %w", err)}
	}
	counted := app.publishKeyCounts(r.Context(), sum)
	v := keysView{Unreadable: sum.UnreadableCount, Done: sum.Done(), CountedAt: counted.At, Keys: []keyView{}}
	configured := map[string]bool{}
	for _, id := range app.state.keys.KeyIDs() {
		configured[id] = true
		v.Keys = append(v.Keys, keyView{KeyID: id, Primary: id == sum.Primary, Configured: true, Counts: *sum.Keys[id]})
	}
	for id, c := range sum.Keys {
		if !configured[id] {
			v.Keys = append(v.Keys, keyView{KeyID: id, Counts: *c})
		}
	}
	return writeAdminJSON(w, http.StatusOK, v)
}

// walkSummary is the last line of a check or rekey stream.
type walkSummary struct {
	// Last is true: the summary line (progress lines have no "summary").
	Last bool `json:"summary"`
	*rekey.Summary
	Done bool `json:"done"`
	// Error, when the walk stopped early: resume from Cursor.
	Error string `json:"error,omitempty"`
}

// adminWalk streams a check (or, with write, a rekey) as JSON Lines: a
// progress line per page, each with the cursor to resume from
// (?after=<cursor>), then the summary.
func adminWalk(write bool) func(*App, http.ResponseWriter, *http.Request) error {
	return func(app *App, w http.ResponseWriter, r *http.Request) error {
		after := r.URL.Query().Get("after")
		if _, _, err := rekey.ParseCursor(after); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		rc := http.NewResponseController(w)
		opts := rekey.Options{After: after, PageSize: walkPage, Progress: func(p rekey.Progress) {
			_ = enc.Encode(p)
			_ = rc.Flush()
		}}
		walk := app.walker().Check
		if write {
			walk = app.walker().Rekey
		}
		sum, err := walk(r.Context(), opts)
		if sum == nil {
			sum = &rekey.Summary{}
		}
		line := walkSummary{Last: true, Summary: sum, Done: sum.Done()}
		if err != nil {
			line.Error = err.Error()
		}
		if after == "" && err == nil {
			app.publishKeyCounts(r.Context(), sum) // a whole walk: the counts are the store's
		}
		if write {
			app.auditRekey(r, sum)
		}
		_ = enc.Encode(line)
		return nil
	}
}

// adminUnreadable lists the records no configured key opens (a check that
// writes nothing).
func adminUnreadable(app *App, w http.ResponseWriter, r *http.Request) error {
	sum, err := app.walker().Check(r.Context(), rekey.Options{PageSize: walkPage})
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("looking for unreadable records: %w", err)}
	}
	return writeAdminJSON(w, http.StatusOK, map[string]any{"unreadable": sum.Unreadable, "count": sum.UnreadableCount})
}

// adminDeleteUnreadable deletes one record that no configured key opens;
// one that opens is refused (409: disconnect it instead).
func adminDeleteUnreadable(app *App, w http.ResponseWriter, r *http.Request) error {
	class, id := tokenstore.Class(r.PathValue("kind")), r.PathValue("first")+"/"+r.PathValue("second")
	if hash := r.PathValue("hash"); hash != "" {
		class, id = tokenstore.ClassPending, hash
	}
	if class != tokenstore.ClassConnection && class != tokenstore.ClassEntry {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no kind of record %q: connection/<provider>/<hash>, entry/<kind>/<hash> or pending/<hash>", class)}
	}
	err := app.walker().DeleteUnreadable(r.Context(), class, id)
	switch {
	case err == nil:
		return writeAdminJSON(w, http.StatusOK, map[string]any{"deleted": true, "kind": class, "key": id})
	case errors.Is(err, rekey.ErrReadable):
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: err}
	case errors.Is(err, tokenstore.ErrNotFound):
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no %s %s is stored", class, id)}
	}
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
}

// auditRekey records a rekey run for the operator.
func (a *App) auditRekey(r *http.Request, sum *rekey.Summary) {
	a.logger.Info("rekey", zap.Int("resealed", sum.Resealed), zap.Int("unreadable", sum.UnreadableCount),
		zap.Int("errors", sum.Errors), zap.Bool("done", sum.Done()), zap.String("cursor", sum.Cursor))
}
