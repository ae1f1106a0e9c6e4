package simkit

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// WriteBody answers status with b as the body, with Content-Type and
// Content-Length set. Other headers already set on w are kept.
func WriteBody(w http.ResponseWriter, status int, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WritePlainText answers status with a plain-text page that must not be
// sniffed or cached (a consent page's error page, say).
func WritePlainText(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

// WriteJSON answers status with v encoded as JSON, as contentType; when v
// cannot be encoded it calls fail, which answers in the provider's 500
// format.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any, fail func(http.ResponseWriter)) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(w)
		return
	}
	WriteBody(w, status, contentType, b)
}
