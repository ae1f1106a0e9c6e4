package simkit

import (
	"net/http"
	"slices"
	"sync/atomic"
)

// Consent is the simulated user's answer on a consent page.
type Consent struct {
	// UserID is who consented; empty means the simulator's default user
	// (Config.DefaultUser).
	UserID string
	// Granted are the scopes the user allowed. nil means everything that was
	// requested; otherwise it is intersected with the requested scopes, and
	// an empty result is a denial.
	Granted []string
	// Deny makes the user refuse ("Deny" at Fitbit, "Cancel" at Google).
	Deny bool
	// Page leaves the answer to a person: the simulator shows its consent
	// page (see AskPerson), whose form post is the answer.
	Page bool
}

// ConsentFunc decides who consents to an authorization request and to what.
type ConsentFunc = func(r *http.Request, requested []string) Consent

// GrantAll is the default ConsentFunc: user grants everything requested.
func GrantAll(user string) ConsentFunc {
	return func(_ *http.Request, requested []string) Consent {
		return Consent{UserID: user, Granted: append([]string(nil), requested...)}
	}
}

// Grants applies c to the requested scopes: it returns the scopes granted
// and whether the user consented at all.
func (c Consent) Grants(requested []string) (granted []string, ok bool) {
	granted = requested
	if c.Granted != nil {
		granted = IntersectScopes(requested, c.Granted)
	}
	return granted, !c.Deny && len(granted) > 0
}

// User is who consented: c.UserID, or def when that is empty.
func (c Consent) User(def string) string {
	if c.UserID == "" {
		return def
	}
	return c.UserID
}

// ConsentHook holds a simulator's consent function, replaceable at run time
// and safe for concurrent use. Set it before use.
type ConsentHook struct {
	DefaultUser string // whom GrantAll names when Set is given nil

	f atomic.Pointer[ConsentFunc]
}

// Set replaces the consent function; nil restores GrantAll(DefaultUser).
func (h *ConsentHook) Set(f ConsentFunc) {
	if f == nil {
		f = GrantAll(h.DefaultUser)
	}
	h.f.Store(&f)
}

// Ask asks the consent function about r (with a copy of requested).
func (h *ConsentHook) Ask(r *http.Request, requested []string) Consent {
	return (*h.f.Load())(r, slices.Clone(requested))
}
