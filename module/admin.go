package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI is the admin.api.fitbit module: the gateway's operations
// (connections, keys, imports) under /fitbit/ on Caddy's admin endpoint.
//
// It adds routes to Caddy's own admin server and nothing else, so it is
// exactly as protected as /config/ is: the Host and Origin checks of the
// local endpoint (admin.origins, admin.enforce_origin), and, for the remote
// endpoint, TLS client authentication and admin.remote.access_control (see
// https://caddyserver.com/docs/json/admin/). Disable the admin endpoint
// (admin off) and these routes are gone too. Every answer is JSON and none
// holds a token or a raw identity.
//
// Admin routers are provisioned with the admin server, which outlives config
// reloads (and runs before any app is loaded), so the module holds no app:
// each request asks for the fitbit app running at that moment.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.fitbit",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// adminRoute is one endpoint of admin.api.fitbit, under /fitbit/ on Caddy's admin endpoint.
type adminRoute struct {
	Method, Pattern string                                                       // Pattern as for http.ServeMux (Go 1.22+ patterns, e.g. "GET /fitbit/connections/{provider}/{hash}")
	Handle          func(app *App, w http.ResponseWriter, r *http.Request) error // errors as caddy.APIError
}

var adminRoutes []adminRoute // files add theirs in init()

// adminPrefix is the admin API path every adminRoute lives under.
const adminPrefix = "/fitbit/"

// running is the fitbit app of the running config: set by App.Start,
// cleared by its Stop. On a reload Caddy starts the new config before it
// stops the old one, so the old app's Stop finds the new app here and leaves
// it.
var running atomic.Pointer[App]

// Routes implements caddy.AdminRouter: one subtree, dispatched by a ServeMux
// of the adminRoutes (built here, after every file's init has added its
// routes).
func (AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminPrefix, Handler: newAdminMux(adminRoutes, running.Load)}}
}

// adminMux serves routes with Go's pattern matching and hands their errors
// back to Caddy's admin server, which writes them as JSON (caddy.APIError).
type adminMux struct {
	mux     *http.ServeMux
	methods []string // every method some route serves, for 405's Allow
}

// adminErrKey carries the pointer a route's error is returned through: a
// ServeMux handler cannot return one.
type adminErrKey struct{}

func newAdminMux(routes []adminRoute, app func() *App) *adminMux {
	m := &adminMux{mux: http.NewServeMux()}
	for _, rt := range routes {
		pattern := rt.Pattern
		if rt.Method != "" && !strings.HasPrefix(pattern, rt.Method+" ") {
			pattern = rt.Method + " " + pattern
		}
		method, _, _ := strings.Cut(pattern, " ")
		if !slices.Contains(m.methods, method) {
			m.methods = append(m.methods, method)
		}
		handle := rt.Handle
		m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			errp := r.Context().Value(adminErrKey{}).(*error)
			a := app()
			if a == nil || a.state == nil {
				*errp = caddy.APIError{HTTPStatus: http.StatusServiceUnavailable,
					Err: errors.New("no fitbit app is running: configure apps.fitbit (JSON) or the fitbit global option (Caddyfile)")}
				return
			}
			*errp = handle(a, w, r)
		})
	}
	slices.Sort(m.methods)
	m.mux.HandleFunc(adminPrefix, m.notFound)
	return m
}

// ServeHTTP implements caddy.AdminHandler.
func (m *adminMux) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	var err error
	m.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminErrKey{}, &err)))
	return err
}

// notFound answers a path no route serves (404), or serves with other
// methods only (405 with Allow), as JSON: the catch-all pattern takes both
// from ServeMux, whose own answers are plain text.
func (m *adminMux) notFound(w http.ResponseWriter, r *http.Request) {
	errp := r.Context().Value(adminErrKey{}).(*error)
	var allow []string
	for _, method := range m.methods {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.mux.Handler(probe); pattern != adminPrefix {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		*errp = caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed,
			Err: fmt.Errorf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))}
		return
	}
	*errp = caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no fitbit admin endpoint %s", r.URL.Path)}
}

// maxAdminBody bounds a JSON request body of the admin API (an import has
// its own, larger bound).
const maxAdminBody = 64 << 10

// decodeAdminJSON reads r's JSON body, of at most limit bytes, into v; the
// error is a 400 (413 when too long) that quotes nothing of the body.
func decodeAdminJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return caddy.APIError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("request body larger than %d bytes", limit)}
		}
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("request body: %w", jsonProblem(err))}
	}
	return nil
}

// jsonProblem describes a JSON decoding error without quoting the input,
// which may hold secrets.
func jsonProblem(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %s must be %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errors.New(strings.TrimPrefix(err.Error(), "json: ")) // the field name is the caller's own, and no value
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not a complete JSON object")
	}
	return errors.New("not a JSON object of the expected shape")
}

// writeAdminJSON answers v as JSON with status. It returns nil: once the
// status is written, an encoding error (the client went away) can no longer
// become an error answer.
func writeAdminJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

var (
	_ caddy.Module      = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
