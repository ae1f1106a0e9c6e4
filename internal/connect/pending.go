package connect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// DefaultMaxPending is how many authorizations one identity may have in
// flight at once, across instances: one per browser it connects from
// (visits from one browser reuse its authorization), so far above what a
// person does within the pending TTL.
const DefaultMaxPending = 10

// Entry kinds of the pending bookkeeping.
const (
	// kindReuse maps (browser, identity, provider) to the pending
	// authorization it started, so a revisit reuses it.
	kindReuse = "connect_reuse"
	// kindSlot is one of an identity's MaxPending add-if-absent slots.
	kindSlot = "connect_slot"
)

// reusable is what a browser needs to send itself to the provider again
// with the authorization it started.
type reusable struct {
	State    string    `json:"state"`
	Verifier string    `json:"verifier"`
	ReturnTo string    `json:"return_to,omitempty"`
	Slot     int       `json:"slot"`
	Expires  time.Time `json:"expires"`
	// Scopes the stored authorization asks for (a front's sign-in may
	// ask other scopes on its next visit).
	Scopes []string `json:"scopes,omitempty"`
}

func reuseID(browserHash, provider, identity string) string {
	return browserHash + "\x00" + provider + "\x00" + identity
}

func slotID(identity string, i int) string { return identity + "\x00" + strconv.Itoa(i) }

func (f *Flow) maxPending() int {
	if f.MaxPending > 0 {
		return f.MaxPending
	}
	return DefaultMaxPending
}

// reuse returns the browser's pending authorization of identity with
// provider, when it has one with at least half its time left (a consent
// takes a while). A store error means none: the caller makes a new one.
func (f *Flow) reuse(ctx context.Context, p *tokenstore.Pending, ttl time.Duration) *reusable {
	b, err := f.Store.GetEntry(ctx, kindReuse, reuseID(p.BrowserHash, p.Provider, p.Identity))
	if err != nil {
		return nil
	}
	var prev reusable
	if json.Unmarshal(b, &prev) != nil || prev.Expires.Sub(f.now()) < ttl/2 {
		return nil
	}
	return &prev
}

// pendingFor stores the pending authorization p, or refreshes the one the
// browser has (same state and verifier: its provider URL stays valid; a new
// return_to or new scopes are written into it), within the identity's cap.
// It says false when the cap is reached.
func (f *Flow) pendingFor(ctx context.Context, p *tokenstore.Pending, ttl time.Duration) (bool, error) {
	if prev := f.reuse(ctx, p, ttl); prev != nil {
		p.State, p.Verifier, p.Expires = prev.State, prev.Verifier, prev.Expires
		if prev.ReturnTo == p.ReturnTo && slices.Equal(prev.Scopes, p.Scopes) {
			return true, nil // nothing written
		}
		// Where to go afterwards, or what the consent asks, changed:
		// rewrite it in place.
		prev.ReturnTo, prev.Scopes = p.ReturnTo, p.Scopes
		if err := f.Store.PutPending(ctx, p); err != nil {
			return false, err
		}
		return true, f.putReuse(ctx, p, prev)
	}
	slot := -1
	for i := range f.maxPending() {
		added, err := f.Store.AddEntry(ctx, kindSlot, slotID(p.Identity, i), nil, p.Expires)
		if err != nil {
			return false, err
		}
		if added {
			slot = i
			break
		}
	}
	if slot < 0 {
		return false, nil
	}
	if err := f.Store.PutPending(ctx, p); err != nil {
		return false, err
	}
	return true, f.putReuse(ctx, p, &reusable{State: p.State, Verifier: p.Verifier, ReturnTo: p.ReturnTo, Scopes: p.Scopes, Slot: slot, Expires: p.Expires})
}

func (f *Flow) putReuse(ctx context.Context, p *tokenstore.Pending, v *reusable) error {
	b, _ := json.Marshal(v)
	return f.Store.PutEntry(ctx, kindReuse, reuseID(p.BrowserHash, p.Provider, p.Identity), b, v.Expires)
}

// finished releases the bookkeeping of the pending authorization p, which
// a callback has taken: its slot and its reuse entry, unless a newer
// authorization of the browser replaced it. Failures only leave entries to
// expire with the pending TTL.
func (f *Flow) finished(ctx context.Context, p *tokenstore.Pending) {
	id := reuseID(p.BrowserHash, p.Provider, p.Identity)
	b, err := f.Store.GetEntry(ctx, kindReuse, id)
	var v reusable
	if err != nil || json.Unmarshal(b, &v) != nil || v.State != p.State {
		if err != nil && !errors.Is(err, tokenstore.ErrNotFound) {
			f.log().Warn("could not release a pending authorization's bookkeeping", zap.Error(err))
		}
		return
	}
	_ = f.Store.DeleteEntry(ctx, kindReuse, id)
	_ = f.Store.DeleteEntry(ctx, kindSlot, slotID(p.Identity, v.Slot))
}

// admitRate answers 429 (a page, with Retry-After) when r's client IP or
// identity is over the Gate's rate, and says whether r may go on.
func (f *Flow) admitRate(w http.ResponseWriter, r *http.Request, identity string) bool {
	ip := ratelimit.PeerIP(r)
	if f.ClientIP != nil {
		ip = cmp.Or(f.ClientIP(r), ip)
	}
	d := f.Gate.Admit(r.Context(), ip, identity)
	if d.Allowed {
		return true
	}
	w.Header().Set("Retry-After", ratelimit.RetryAfterHeader(d.RetryAfter))
	f.page(w, http.StatusTooManyRequests, "Too many attempts",
		"There were too many connection attempts from here. Wait "+ratelimit.RetryAfterHeader(d.RetryAfter)+" seconds, then start again from the app.")
	return false
}

// Purge deletes the expired bookkeeping of pending authorizations (stores
// whose entries expire on their own have none to delete).
func Purge(ctx context.Context, entries tokenstore.Entries, now time.Time) {
	for _, kind := range []string{kindReuse, kindSlot} {
		_, _ = entries.PurgeExpiredEntries(ctx, kind, now)
	}
}
