// Package rekey finishes a key rotation. The keyring seals with its first
// key and opens with any (tokenstore.Keyring), so a rotation puts the new key
// first and keeps the old ones until nothing is sealed by them. This
// package tells when that is and makes it so:
//
//   - Check walks every connection, pending authorization and entry of a
//     store and says which key seals each (Summary.Keys) and which no
//     configured key opens (Summary.Unreadable);
//   - Rekey does the same walk and re-seals under the first key whatever
//     another key sealed: a connection under its lock, with compare-and-set
//     on its version, as every writer of the refresh protocol does, so a
//     concurrent refresh is never overwritten and no refresh token is lost;
//     a pending authorization or an entry only if it still holds the bytes
//     that were read (tokenstore.Inventory.ReplaceSealed);
//   - DeleteUnreadable deletes one record that no key opens, and only such
//     a record: it could never be used again, and until it is deleted its
//     user gets a clear "reconnect" error rather than service.
//
// Both walks go in a fixed order (connections, then pending
// authorizations, then entries, each by the store's cursor) and can be
// resumed from the cursor of any progress report. Nothing here prints or
// returns a token: the reasons are the codec's, which name storage keys
// (hashes) only.
package rekey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Store is what the walks need of a token store.
type Store interface {
	tokenstore.Inventory
	LoadConnection(ctx context.Context, key tokenstore.Key) (*tokenstore.Record, error)
	SaveConnection(ctx context.Context, rec *tokenstore.Record) error
	DeleteConnection(ctx context.Context, key tokenstore.Key) error
	LockConnection(ctx context.Context, key tokenstore.Key) (tokenstore.Lock, error)
	PublishChange(ctx context.Context, key tokenstore.Key) error
}

// Walker runs the walks over one store, with the keyring it was opened
// with.
type Walker struct {
	Store Store
	Keys  *tokenstore.Keyring
	// Now judges the expiry of pending authorizations and entries (expired
	// ones are neither counted nor re-sealed: they are deleted by their
	// sweeps); time.Now when nil.
	Now func() time.Time
}

// Options tunes a walk.
type Options struct {
	// After is a cursor from a Progress report: the walk resumes after it.
	After string
	// PageSize is how many records are listed at a time (0:
	// tokenstore.DefaultListLimit).
	PageSize int
	// Progress, when set, is called after each page with what was done so
	// far; a walk stopped after a report can be resumed from its Cursor.
	Progress func(Progress)
	// MaxUnreadable bounds how many unreadable records the summary lists
	// (all are counted); 0: 1000.
	MaxUnreadable int
}

// Progress reports a walk after one page.
type Progress struct {
	Class  tokenstore.Class `json:"kind"`
	Cursor string           `json:"cursor"`          // resume from here
	Seen   int              `json:"seen"`            // records looked at so far
	Sealed int              `json:"resealed"`        // records re-sealed so far
	Failed int              `json:"unreadable"`      // records no key opens so far
	Errors int              `json:"errors,omitzero"` // records that could not be read or written now
}

// Counts are the records one key seals.
type Counts struct {
	Connections int `json:"connections"`
	Pending     int `json:"pending"`
	Entries     int `json:"entries"`
}

func (c *Counts) add(class tokenstore.Class, n int) {
	switch class {
	case tokenstore.ClassConnection:
		c.Connections += n
	case tokenstore.ClassPending:
		c.Pending += n
	case tokenstore.ClassEntry:
		c.Entries += n
	}
}

// Total is the number of records counted.
func (c Counts) Total() int { return c.Connections + c.Pending + c.Entries }

// Unreadable is a record that no configured key opens.
type Unreadable struct {
	Class tokenstore.Class `json:"kind"`
	// ID names it: "<provider>/<identity hash>" for a connection, the
	// store's tokenstore.SealedValue.ID otherwise.
	ID string `json:"key"`
	// KeyID is the key its header names, if any: a key that is not
	// configured (removed too early, or another deployment's).
	KeyID  string `json:"key_id,omitempty"`
	Reason string `json:"reason"`
}

// Summary is what a walk found.
type Summary struct {
	// Keys: per key id, the records it seals (after a Rekey: now). Every
	// configured key is listed, with zeros if it seals nothing.
	Keys map[string]*Counts `json:"keys"`
	// Connections counts the connections by provider and status
	// (StatusUnreadable for those no key opens), for the gauge of
	// connections by health.
	Connections map[string]map[tokenstore.Status]int `json:"connections,omitempty"`
	// Primary is the id of the key that seals new records.
	Primary string `json:"primary_key_id"`
	// Resealed counts records Rekey re-sealed under Primary.
	Resealed int `json:"resealed"`
	// UnreadableCount counts records no configured key opens; Unreadable
	// lists up to Options.MaxUnreadable of them.
	UnreadableCount int          `json:"unreadable_count"`
	Unreadable      []Unreadable `json:"unreadable"`
	// Errors counts records that could not be read or written this time
	// (the store failed, or a record kept changing); a later run retries
	// them. FirstError describes the first.
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// Cursor is where the walk stopped when it did not finish (ctx was
	// done, or the store failed to list): resume from it. "" when complete.
	Cursor string `json:"cursor,omitempty"`
}

// Done reports whether every record is sealed by the first key: the other
// keys can be removed from the keyring.
func (s *Summary) Done() bool {
	if s.Cursor != "" || s.Errors > 0 || s.UnreadableCount > 0 {
		return false
	}
	for id, c := range s.Keys {
		if id != s.Primary && c.Total() > 0 {
			return false
		}
	}
	return true
}

// Check walks the store and counts, per key, what it seals, without
// writing anything.
func (w *Walker) Check(ctx context.Context, opts Options) (*Summary, error) {
	return w.walk(ctx, opts, false)
}

// Rekey walks the store and re-seals under the first key whatever another
// key sealed (see the package comment).
func (w *Walker) Rekey(ctx context.Context, opts Options) (*Summary, error) {
	return w.walk(ctx, opts, true)
}

// classes is the order of a walk.
var classes = []tokenstore.Class{tokenstore.ClassConnection, tokenstore.ClassPending, tokenstore.ClassEntry}

// ParseCursor splits a walk's cursor, "<kind>:<store cursor>".
func ParseCursor(cursor string) (class tokenstore.Class, after string, err error) {
	if cursor == "" {
		return tokenstore.ClassConnection, "", nil
	}
	c, after, ok := strings.Cut(cursor, ":")
	for _, known := range classes {
		if ok && tokenstore.Class(c) == known && len(after) <= 256 {
			return known, after, nil
		}
	}
	return "", "", fmt.Errorf("rekey: %q is not a cursor of a check or rekey run (want <kind>:<key>, kind one of connection, pending, entry)", cursor)
}

func cursorOf(class tokenstore.Class, after string) string { return string(class) + ":" + after }

func (w *Walker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// run is one walk's state.
type run struct {
	w      *Walker
	opts   Options
	rekey  bool
	sum    *Summary
	seen   int
	primID string
}

func (w *Walker) walk(ctx context.Context, opts Options, rekey bool) (*Summary, error) {
	start, after, err := ParseCursor(opts.After)
	if err != nil {
		return nil, err
	}
	if opts.MaxUnreadable <= 0 {
		opts.MaxUnreadable = 1000
	}
	r := &run{w: w, opts: opts, rekey: rekey, primID: w.Keys.PrimaryKeyID(),
		sum: &Summary{Keys: map[string]*Counts{}, Primary: w.Keys.PrimaryKeyID(), Unreadable: []Unreadable{}}}
	for _, id := range w.Keys.KeyIDs() {
		r.sum.Keys[id] = &Counts{}
	}
	started := false
	for _, class := range classes {
		if class == start {
			started = true
		}
		if !started {
			continue
		}
		if err := r.walkClass(ctx, class, after); err != nil {
			return r.sum, err
		}
		after = ""
	}
	return r.sum, nil
}

// walkClass walks the records of class after the store cursor after.
func (r *run) walkClass(ctx context.Context, class tokenstore.Class, after string) error {
	q := tokenstore.ListQuery{After: after, Limit: r.opts.PageSize}
	for {
		if err := ctx.Err(); err != nil {
			r.sum.Cursor = cursorOf(class, q.After)
			return err
		}
		next, err := r.page(ctx, class, q)
		if err != nil {
			r.sum.Cursor = cursorOf(class, q.After)
			return err
		}
		if r.opts.Progress != nil {
			p := Progress{Class: class, Cursor: cursorOf(class, next), Seen: r.seen, Sealed: r.sum.Resealed,
				Failed: r.sum.UnreadableCount, Errors: r.sum.Errors}
			if next == "" {
				p.Cursor = r.cursorAfter(class)
			}
			r.opts.Progress(p)
		}
		if next == "" {
			return nil
		}
		q.After = next
	}
}

// cursorAfter is the cursor that resumes after the whole of class: the
// start of the next one ("" after the last: nothing is left).
func (r *run) cursorAfter(class tokenstore.Class) string {
	for i, c := range classes {
		if c == class && i+1 < len(classes) {
			return cursorOf(classes[i+1], "")
		}
	}
	return ""
}

// page does one page of class and returns the store cursor of the next.
func (r *run) page(ctx context.Context, class tokenstore.Class, q tokenstore.ListQuery) (string, error) {
	if class == tokenstore.ClassConnection {
		keys, next, err := r.w.Store.ListConnections(ctx, q)
		return next, visit(r, keys, err, func(k tokenstore.Key) { r.connection(ctx, k) })
	}
	values, next, err := r.w.Store.ListSealed(ctx, class, q)
	return next, visit(r, values, err, func(v tokenstore.SealedValue) { r.sealed(ctx, v) })
}

// visit does each item of a page that was listed without err.
func visit[T any](r *run, items []T, err error, do func(T)) error {
	if err != nil {
		return err
	}
	for _, item := range items {
		r.seen++
		do(item)
	}
	return nil
}

// count notes that keyID seals one record of class (a key the keyring does
// not have is listed too, though Open would have refused it).
func (r *run) count(class tokenstore.Class, keyID string) {
	c := r.sum.Keys[keyID]
	if c == nil {
		c = &Counts{}
		r.sum.Keys[keyID] = c
	}
	c.add(class, 1)
}

func (r *run) unreadable(u Unreadable) {
	r.sum.UnreadableCount++
	if len(r.sum.Unreadable) < r.opts.MaxUnreadable {
		r.sum.Unreadable = append(r.sum.Unreadable, u)
	}
}

func (r *run) failed(err error) {
	r.sum.Errors++
	if r.sum.FirstError == "" {
		r.sum.FirstError = err.Error()
	}
}

// saveAttempts bounds how often a connection that keeps changing under the
// rekey (a conflict: a writer without the lock) is read again.
const saveAttempts = 3

// connection checks, or re-seals, the connection under k.
func (r *run) connection(ctx context.Context, k tokenstore.Key) {
	st := r.w.Store
	if !r.rekey {
		rec, err := st.LoadConnection(ctx, k)
		r.loaded(k, rec, err)
		return
	}
	// Under the connection's lock: a refresh holds it from reading the
	// record to storing the new pair, so this write lands before or after
	// a refresh, never in the middle of one; the version check catches a
	// writer that lost its lease.
	lock, err := st.LockConnection(ctx, k)
	if err != nil {
		r.failed(fmt.Errorf("locking %s: %w", k, err))
		return
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	for range saveAttempts {
		rec, err := st.LoadConnection(ctx, k)
		if !r.loaded(k, rec, err) || rec.SealedBy == r.primID {
			return
		}
		// The record as it is: only its version changes, and the store
		// seals it with the first key. Caches elsewhere hold the old
		// version, which costs nothing: every writer reads the record
		// again under the lock before it writes.
		from := rec.SealedBy
		err = st.SaveConnection(ctx, rec)
		switch {
		case err == nil:
			r.sum.Resealed++
			r.move(tokenstore.ClassConnection, from)
			return
		case !errors.Is(err, tokenstore.ErrConflict):
			r.failed(fmt.Errorf("re-sealing %s: %w", k, err))
			return
		}
	}
	r.failed(fmt.Errorf("re-sealing %s: it kept changing (%d version conflicts)", k, saveAttempts))
}

// loaded counts a connection as LoadConnection returned it, and says
// whether it is there to re-seal.
func (r *run) loaded(k tokenstore.Key, rec *tokenstore.Record, err error) bool {
	switch {
	case err == nil:
		r.count(tokenstore.ClassConnection, rec.SealedBy)
		r.countConnection(k.Provider, rec.Status)
		return true
	case errors.Is(err, tokenstore.ErrNotFound):
		// Deleted since it was listed.
	case errors.Is(err, tokenstore.ErrUnreadable):
		r.unreadable(Unreadable{Class: tokenstore.ClassConnection, ID: k.String(), Reason: reasonOf(err)})
		r.countConnection(k.Provider, StatusUnreadable)
	default:
		r.failed(fmt.Errorf("loading %s: %w", k, err))
	}
	return false
}

// StatusUnreadable is the status Summary.Connections counts a connection
// no key opens under.
const StatusUnreadable tokenstore.Status = "record_unreadable"

// countConnection counts a connection of provider in status.
func (r *run) countConnection(provider string, status tokenstore.Status) {
	if r.sum.Connections == nil {
		r.sum.Connections = map[string]map[tokenstore.Status]int{}
	}
	if r.sum.Connections[provider] == nil {
		r.sum.Connections[provider] = map[tokenstore.Status]int{}
	}
	if status == "" {
		status = tokenstore.StatusOK
	}
	r.sum.Connections[provider][status]++
}

// move re-counts a record of class that from sealed as the primary's.
func (r *run) move(class tokenstore.Class, from string) {
	if c := r.sum.Keys[from]; c != nil {
		c.add(class, -1)
	}
	r.count(class, r.primID)
}

// sealed checks, or re-seals, a pending authorization or an entry.
func (r *run) sealed(ctx context.Context, v tokenstore.SealedValue) {
	keyID, expired, err := r.w.Keys.InspectSealed(v, r.now())
	switch {
	case err != nil:
		r.unreadable(Unreadable{Class: v.Class, ID: v.ID, KeyID: keyID, Reason: reasonOf(err)})
		return
	case expired:
		return // its sweep deletes it; it needs no key
	}
	r.count(v.Class, keyID)
	if !r.rekey || keyID == r.primID {
		return
	}
	with, err := r.w.Keys.ResealValue(v)
	if err != nil {
		r.failed(fmt.Errorf("re-sealing %s %s: %w", v.Class, v.ID, err))
		return
	}
	switch ok, err := r.w.Store.ReplaceSealed(ctx, v, with); {
	case err != nil:
		r.failed(fmt.Errorf("re-sealing %s %s: %w", v.Class, v.ID, err))
	case ok:
		r.sum.Resealed++
		r.move(v.Class, keyID)
	}
	// Otherwise it was taken, deleted or rewritten since it was read: it
	// stays counted as the old key's, so the summary is not Done, and the
	// next run sees what is there now.
}

func (r *run) now() time.Time { return r.w.now() }

// reasonOf is the codec's description of why a record does not open,
// without the sentinel's prefix. It names storage keys (hashes) only.
func reasonOf(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, tokenstore.ErrUnreadable.Error()+": ")
	return s
}
