package connect

import (
	"context"
	"net/http"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// page writes a result page whose next step is the connections page; the
// browser, not an app, is the reader of every connect-flow response but
// status and disconnect.
func (f *Flow) page(w http.ResponseWriter, status int, title, text string, facts ...htmlpage.Fact) {
	w.Header().Set("Cache-Control", "no-store")
	htmlpage.Render(w, status, htmlpage.Page{Title: title, Text: text, Facts: facts, Links: []htmlpage.Link{f.homeLink()}})
}

// homeLink is the next step of every result page.
func (f *Flow) homeLink() htmlpage.Link {
	return htmlpage.Link{Text: "Go to your connections", Href: f.Prefix + "/", Primary: true}
}

// attemptFacts name, on the result page of p's attempt, the account
// identity is connected with now (if any) and the scopes asked for. Only
// for the browser that began p: they are the person's own.
func (f *Flow) attemptFacts(ctx context.Context, mgr *tokens.Manager, p *tokenstore.Pending) []htmlpage.Fact {
	account := "none connected"
	if rec, err := mgr.Lookup(ctx, p.Identity); err == nil {
		account = rec.UserID + " (still connected, as before)"
	}
	return []htmlpage.Fact{
		{Label: "Provider", Value: mgr.Provider().Reg.Title()},
		{Label: "Account", Value: account},
		{Label: "Asked for", Values: scopesInWords(askedScopes(mgr, p))},
	}
}

// askedScopes are the scopes p's consent asked for.
func askedScopes(mgr *tokens.Manager, p *tokenstore.Pending) []string {
	if len(p.Scopes) > 0 {
		return p.Scopes
	}
	return mgr.Provider().Reg.Scopes
}
