// Package htmlpage writes the gateway's few browser-facing pages (the
// connect flow's, the legacy OAuth 1.0a authorize step's), so that they look
// alike and carry the same protective headers.
package htmlpage

import (
	"html/template"
	"net/http"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

// Write writes a small human-readable page: title as its heading, text as
// its one paragraph (both HTML-escaped).
func Write(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// No other site may frame a page of the gateway (clickjacking a consent
	// or reading a verifier in a frame): CSP frame-ancestors for current
	// browsers, X-Frame-Options for those without CSP level 2.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}
