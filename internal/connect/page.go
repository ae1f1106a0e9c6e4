package connect

import (
	"net/http"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
)

// page writes a small human-readable page; the browser, not an app, is the
// reader of every connect-flow response but status and disconnect.
func page(w http.ResponseWriter, status int, title, text string) {
	htmlpage.Write(w, status, title, text)
}
