// Package audit names the operations on connections and grants that the
// gateway records for operators: who connected, disconnected, revoked,
// imported or re-sealed what, from where. An Entry never holds a token or
// the raw identity, only its hash (tokenstore.IdentityHash), so the audit
// log can be kept and shipped like any other log.
package audit

import "net/http"

// Action is what was done.
type Action string

// The audited actions.
const (
	Connect    Action = "connect"    // a user connected (or reconnected) a provider account
	Disconnect Action = "disconnect" // a connection was deleted (and revoked at the provider when it could be)
	Revoke     Action = "revoke"     // an app's token or grant at one of the gateway's fronts was revoked
	Import     Action = "import"     // an operator imported a connection
	Rekey      Action = "rekey"      // records were re-sealed under the first key
)

// Entry is one audited operation.
type Entry struct {
	Action       Action
	Provider     string // the registration name
	IdentityHash string
	UserID       string // the provider's user id, when known
	// Client is the app concerned, at a front (an OAuth 2.0 client id or
	// OAuth 1.0a consumer key), if any.
	Client string
	// Result says how it went, in a word or two (revoked, revoke_failed,
	// provider_gone, …); "" when there is nothing more to say. Never a
	// provider message: it may quote what the caller sent.
	Result string
	// Count is how many records a bulk action (rekey, import) touched.
	Count int
}

// Recorder records an entry; r is the request that caused it, from which
// the client IP and user agent are taken, or nil (a background task). A nil
// Recorder records nothing.
type Recorder func(r *http.Request, e Entry)

// Record records e with f, if f is set.
func (f Recorder) Record(r *http.Request, e Entry) {
	if f != nil {
		f(r, e)
	}
}
