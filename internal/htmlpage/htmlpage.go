// Package htmlpage writes the gateway's browser-facing pages (the connect
// flow's results, the connections page, the legacy OAuth 1.0a authorize
// step), so that they look alike and carry the same protective headers.
//
// The pages need no JavaScript and load nothing: one inline style sheet,
// readable at phone width (viewport meta, a fluid column), with colours
// that pass WCAG 2.1 AA contrast (4.5:1 for text) and visible focus.
package htmlpage

import (
	"html/template"
	"net/http"
	"strings"
)

// base is the layout every page shares; a page's own template defines
// "main", the body under the heading.
const base = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + style + `</style>
</head><body><main><h1>{{.Title}}</h1>
{{template "main" .}}
</main></body></html>
`

// style: against #fff, #1f1f1f (text) is 16.5:1, #0b57d0 (links, buttons,
// and white on it) 6.4:1, #b3261e (disconnect, errors) 6.5:1, #5e5e5e
// (secondary text) 6.5:1, #146c2e (ok) 6.5:1, #8c4a00 (warnings) 6.8:1:
// all above WCAG 2.1 AA's 4.5:1 (https://www.w3.org/TR/WCAG21/#contrast-minimum).
const style = `*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:1rem;line-height:1.5;color:#1f1f1f;background:#fff;margin:0}
main{max-width:40rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:0 0 .5rem}
a{color:#0b57d0}
a:focus-visible,button:focus-visible{outline:3px solid #1f1f1f;outline-offset:2px}
.card{border:1px solid #747775;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
dl{margin:0 0 .75rem;display:grid;grid-template-columns:minmax(6rem,max-content) 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
ul{margin:.25rem 0;padding-left:1.25rem}
.muted{color:#5e5e5e}
.ok{color:#146c2e;font-weight:600}.warn{color:#8c4a00;font-weight:600}.bad{color:#b3261e;font-weight:600}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0 0}
form{margin:0}
button,.button{font:inherit;font-weight:600;min-height:2.75rem;padding:.5rem 1rem;border-radius:1.5rem;border:2px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:#0b57d0}
button.danger{background:#fff;color:#b3261e;border-color:#b3261e}
@media (max-width:30rem){dl{grid-template-columns:1fr}dd{margin-bottom:.5rem}.actions>*{flex:1 1 100%}button,.button{width:100%;text-align:center}}
`

// New parses a page template: content defines "main", the body of the
// page below its heading, and the data it is executed with has a Title.
func New(name, content string) *template.Template {
	t := template.Must(template.New(name).Parse(base))
	return template.Must(t.Parse(content))
}

// Link is a next step a page offers.
type Link struct {
	Text, Href string
	Primary    bool // shown as the page's main button
}

// Fact is one labelled line of a page, such as the account or the scopes.
type Fact struct {
	Label  string
	Value  string   // one value, or
	Values []string // a list
}

// Page is a result page: a heading, a paragraph, facts and next steps.
type Page struct {
	Title, Text string
	Facts       []Fact
	Links       []Link
}

var pageTmpl = New("page", `{{define "main"}}<p>{{.Text}}</p>
{{- if .Facts}}<dl>{{range .Facts}}<dt>{{.Label}}</dt><dd>{{if .Values}}<ul>{{range .Values}}<li>{{.}}</li>{{end}}</ul>{{else}}{{.Value}}{{end}}</dd>{{end}}</dl>{{end}}
{{- if .Links}}<p class="actions">{{range .Links}}<a class="button{{if not .Primary}} secondary{{end}}" href="{{.Href}}">{{.Text}}</a>{{end}}</p>{{end}}
{{end}}`)

// Write writes a small human-readable page: title as its heading, text as
// its one paragraph (both HTML-escaped).
func Write(w http.ResponseWriter, status int, title, text string) {
	Render(w, status, Page{Title: title, Text: text})
}

// Render writes the result page p.
func Render(w http.ResponseWriter, status int, p Page) {
	Execute(w, status, pageTmpl, p)
}

// Execute writes t (made by New) executed with data, under the protective
// headers. formAction lists where the page's forms may submit to, and
// where those submissions may be redirected ('self', a provider's origin);
// none: the page may not submit forms at all.
func Execute(w http.ResponseWriter, status int, t *template.Template, data any, formAction ...string) {
	SetHeaders(w.Header(), formAction...)
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}

// SetHeaders sets the headers of a gateway page on h (see Execute).
func SetHeaders(h http.Header, formAction ...string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	fa := "'none'"
	if len(formAction) > 0 {
		fa = strings.Join(formAction, " ")
	}
	// No other site may frame a page of the gateway (clickjacking a consent
	// or a disconnect button, reading a verifier in a frame): CSP
	// frame-ancestors for current browsers, X-Frame-Options for those
	// without CSP level 2. form-action also binds the redirects that follow
	// a submission, which is why a connect button's provider is listed.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action "+fa)
	h.Set("X-Frame-Options", "DENY")
}
