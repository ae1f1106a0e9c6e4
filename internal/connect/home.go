package connect

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
)

// Home answers GET <prefix>/: the connections page to a browser (its Accept
// ranks HTML above JSON), the status JSON (as /status) to everyone else.
func (f *Flow) Home(w http.ResponseWriter, r *http.Request, identity string) {
	w.Header().Add("Vary", "Accept")
	if !prefersHTML(r) {
		f.Status(w, r, identity)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		f.page(w, http.StatusMethodNotAllowed, "Method not allowed", "Open this page with GET.")
		return
	}
	if identity == "" {
		f.page(w, http.StatusUnauthorized, "Sign in first", "The gateway could not tell who you are. Sign in to the gateway, then open this page again.")
		return
	}
	view, err := f.homeView(r.Context(), identity)
	if err == nil {
		view.CSRF, err = f.csrfToken(r.Context(), w, r, identity)
	}
	if err != nil {
		f.log().Error("connections page: store failed", zap.Error(err))
		f.page(w, http.StatusServiceUnavailable, "Try again", "The gateway could not read your connections. Please try again shortly.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	htmlpage.Execute(w, http.StatusOK, homeTmpl, view, f.formAction()...)
}

// homeView is what the connections page shows.
type homeView struct {
	Title, Identity, CSRF string
	Regs                  []regView
	StatusURL             string
}

// regView is one registration on the connections page.
type regView struct {
	Name, Title               string
	Connected, CanDisconnect  bool
	Account                   string
	IDs                       []htmlpage.Fact
	Scopes, Missing           []string
	HealthText, HealthClass   string
	ConnectedAt, RefreshedAt  string
	ConnectLabel              string
	ConnectURL, DisconnectURL string
}

func (f *Flow) homeView(ctx context.Context, identity string) (*homeView, error) {
	v := &homeView{Title: "Your connections", Identity: identity, StatusURL: f.Prefix + "/status"}
	for _, m := range f.managers() {
		st, err := f.status(ctx, m, identity)
		if err != nil {
			return nil, err
		}
		v.Regs = append(v.Regs, f.regView(m, st))
	}
	return v, nil
}

// managers are the registrations, the default first, then by name.
func (f *Flow) managers() []*tokens.Manager {
	names := make([]string, 0, len(f.Others))
	for n := range f.Others {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []*tokens.Manager{f.Tokens}
	for _, n := range names {
		if f.Others[n] != f.Tokens {
			out = append(out, f.Others[n])
		}
	}
	return out
}

func (f *Flow) regView(m *tokens.Manager, st *Status) regView {
	title := m.Provider().Reg.Title()
	q := "?provider=" + url.QueryEscape(st.Provider)
	rv := regView{
		Name: st.Provider, Title: title, Connected: st.Connected, Account: st.UserID,
		Scopes:        scopesInWords(st.Scopes),
		Missing:       scopesInWords(missingScopes(m.Provider().Reg.Scopes, st.Scopes)),
		ConnectedAt:   when(st.ConnectedAt),
		RefreshedAt:   when(st.RefreshedAt),
		ConnectLabel:  "Connect " + title,
		ConnectURL:    f.Prefix + "/authorize" + q,
		DisconnectURL: f.Prefix + "/disconnect" + q,
		CanDisconnect: st.Connected || st.Health == HealthUnreadable,
	}
	if id := st.Extra["legacy_user_id"]; id != "" {
		rv.IDs = append(rv.IDs, htmlpage.Fact{Label: "Fitbit user id", Value: id})
	}
	if rv.CanDisconnect {
		rv.ConnectLabel = "Reconnect " + title
	}
	switch {
	case st.Health == HealthProviderGone:
		rv.HealthText, rv.HealthClass = title+" has turned its API off (since "+when(st.GoneSince)+"). Apps cannot read your data through this connection.", "bad"
	case st.Health == HealthUnreadable:
		rv.HealthText, rv.HealthClass = "The gateway can no longer read this connection (the key it was sealed with was retired). Connect again to replace it, or disconnect to remove it.", "bad"
	case !st.Connected:
		rv.HealthText, rv.HealthClass = "Not connected.", "muted"
	case st.Health == HealthNeedsReauth:
		rv.HealthText, rv.HealthClass = title+" no longer accepts this connection: it needs re-authorization. Reconnect to go on.", "warn"
	case st.Health == HealthOK:
		rv.HealthText, rv.HealthClass = "Connected and working.", "ok"
	default:
		rv.HealthText, rv.HealthClass = "Connected; its state is "+string(st.Health)+".", "warn"
	}
	return rv
}

// when formats t for people; "" for none.
func when(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

// formAction is where the connections page's forms may go: this origin,
// and the consent pages a connect button is redirected to.
func (f *Flow) formAction() []string {
	out := []string{"'self'"}
	seen := map[string]bool{}
	for _, m := range f.managers() {
		u, err := url.Parse(m.Provider().Reg.Endpoints.AuthURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		if o := u.Scheme + "://" + u.Host; !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

var homeTmpl = htmlpage.New("home", `{{define "main"}}<p>Signed in to the gateway as <strong>{{.Identity}}</strong>.
Apps you use through this gateway read your health data with the connections below. Disconnecting one stops them and asks the provider to revoke the gateway's access.</p>
{{range .Regs}}<section class="card" aria-labelledby="reg-{{.Name}}">
<h2 id="reg-{{.Name}}">{{.Title}}</h2>
<p class="{{.HealthClass}}">{{.HealthText}}</p>
{{- if .Connected}}
<dl><dt>Account</dt><dd>{{.Account}}</dd>
{{- range .IDs}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}
<dt>Allowed</dt><dd>{{if .Scopes}}<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>{{else}}nothing{{end}}</dd>
{{- if and .Scopes .Missing}}<dt>Not allowed</dt><dd><ul>{{range .Missing}}<li>{{.}}</li>{{end}}</ul><span class="muted">Reconnect to allow it.</span></dd>{{end}}
{{- with .ConnectedAt}}<dt>Connected on</dt><dd>{{.}}</dd>{{end}}
{{- with .RefreshedAt}}<dt>Last refreshed</dt><dd>{{.}}</dd>{{end}}</dl>
{{- end}}
<div class="actions">
<form method="post" action="{{.ConnectURL}}"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit"{{if .CanDisconnect}} class="secondary"{{end}}>{{.ConnectLabel}}</button></form>
{{- if .CanDisconnect}}
<form method="post" action="{{.DisconnectURL}}"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit" class="danger">Disconnect {{.Title}}</button></form>
{{- end}}
</div></section>
{{end}}<p class="muted">Apps read the same information as JSON at <a href="{{.StatusURL}}">{{.StatusURL}}</a>.</p>
{{end}}`)
