package simkit

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// AskPerson is a ConsentFunc that leaves the answer to the person at the
// browser: the simulator shows its consent page, a form with a checkbox per
// requested scope and Allow and Deny, as user. The automated default,
// GrantAll, answers without a page.
func AskPerson(user string) ConsentFunc {
	return func(*http.Request, []string) Consent { return Consent{UserID: user, Page: true} }
}

// The consent form's own fields; every other field is the authorization
// request, carried through the form unchanged.
const (
	fieldDecision = "sim_decision" // "allow" or "deny"
	fieldScope    = "sim_scope"    // each ticked scope
	fieldUser     = "sim_user"     // who is signed in at the simulated provider
)

// maxConsentForm bounds a consent form post.
const maxConsentForm = 16 << 10

// ConsentPage is what a simulator's consent page shows.
type ConsentPage struct {
	Provider string     // "Fitbit (simulated)"
	Client   string     // the OAuth client asking
	User     string     // the simulated account signed in
	Path     string     // where the form posts: the authorize endpoint
	Request  url.Values // the authorization request, carried in the form
	Scopes   []string   // requested
	Label    func(scope string) string
}

type scopeBox struct{ Value, Label, ID string }

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Provider}}: allow access?</title>
<style>body{font-family:system-ui,sans-serif;line-height:1.5;color:#1f1f1f;background:#fff;margin:0}main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.4rem}fieldset{border:1px solid #747775;border-radius:.5rem;padding:.5rem 1rem;margin:1rem 0}legend{font-weight:600;padding:0 .25rem}
label{display:flex;gap:.5rem;align-items:center;min-height:2.75rem}input[type=checkbox]{width:1.25rem;height:1.25rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem}button{font:inherit;font-weight:600;min-height:2.75rem;padding:.5rem 1.5rem;border-radius:1.5rem;border:2px solid #0b57d0;cursor:pointer;flex:1 1 8rem}
.allow{background:#0b57d0;color:#fff}.deny{background:#fff;color:#0b57d0}button:focus-visible,input:focus-visible{outline:3px solid #1f1f1f;outline-offset:2px}</style>
</head><body><main>
<h1>{{.Provider}}</h1>
<p>Signed in as <strong>{{.User}}</strong>. The app <strong>{{.Client}}</strong> wants to access your account.</p>
<form method="post" action="{{.Path}}">
{{range $k, $vs := .Request}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<input type="hidden" name="sim_user" value="{{.User}}">
<fieldset><legend>Allow the app to read</legend>
{{range .Boxes}}<label for="{{.ID}}"><input type="checkbox" id="{{.ID}}" name="sim_scope" value="{{.Value}}" checked> {{.Label}}</label>
{{end}}</fieldset>
<div class="actions"><button class="allow" type="submit" name="sim_decision" value="allow">Allow</button>
<button class="deny" type="submit" name="sim_decision" value="deny">Deny</button></div>
</form></main></body></html>
`))

// WriteConsentPage shows p: a form that posts the request back to p.Path
// with the person's decision (see ReadAuthorize).
func WriteConsentPage(w http.ResponseWriter, p ConsentPage) {
	boxes := make([]scopeBox, len(p.Scopes))
	for i, s := range p.Scopes {
		label := s
		if p.Label != nil {
			label = p.Label(s)
		}
		boxes[i] = scopeBox{Value: s, Label: label, ID: "scope-" + RandomHex(4)}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	// Like the real consent pages: never framed.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(http.StatusOK)
	_ = consentTmpl.Execute(w, struct {
		ConsentPage
		Boxes []scopeBox
	}{p, boxes})
}

// ReadAuthorize reads an authorization request: a GET's query, or the
// consent page's form post, which also carries the person's answer
// (answer nil for a GET). ok=false: neither, or a form it cannot read.
func ReadAuthorize(w http.ResponseWriter, r *http.Request) (q url.Values, answer *Consent, ok bool) {
	switch r.Method {
	case http.MethodGet:
		return r.URL.Query(), nil, true
	case http.MethodPost:
	default:
		return nil, nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxConsentForm)
	if err := r.ParseForm(); err != nil {
		return nil, nil, false
	}
	q = url.Values{}
	for k, v := range r.PostForm {
		if k != fieldDecision && k != fieldScope && k != fieldUser {
			q[k] = v
		}
	}
	f := r.PostForm
	c := &Consent{UserID: f.Get(fieldUser), Deny: f.Get(fieldDecision) != "allow", Granted: slices.Clone(f[fieldScope])}
	if c.Granted == nil {
		c.Granted = []string{} // nothing ticked: not "everything"
	}
	return q, c, true
}

// AskBrowsers is f for programs and AskPerson for people: a request whose
// Accept names text/html (a browser's navigation) gets the consent page, as
// the user f names; any other client (a test's, a script's) gets f's
// answer at once.
func AskBrowsers(f ConsentFunc) ConsentFunc {
	return func(r *http.Request, requested []string) Consent {
		c := f(r, requested)
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			c = Consent{UserID: c.UserID, Page: true}
		}
		return c
	}
}
