package simkit

import "net/http"

// Routes maps a simulator's exact OAuth endpoint paths to their handlers.
// Unlike http.ServeMux it neither cleans nor redirects paths, so the data
// API behind it sees every path as the client sent it.
type Routes map[string]http.HandlerFunc

// Serve serves r with the handler of its exact path, or with other.
func (rt Routes) Serve(w http.ResponseWriter, r *http.Request, other http.HandlerFunc) {
	if h, ok := rt[r.URL.Path]; ok {
		h(w, r)
		return
	}
	other(w, r)
}
