package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Inventory enumerates what a store holds, for an operator's sweeps: the
// admin API's listing of connections, checking that every record opens (and
// with which key), re-sealing under the first key after a rotation, and the
// background keep-alive. It is not for a request path: a page may cost a
// walk of the store's whole key space (see each backend), so callers page
// through with bounded limits.
//
// Connections are listed by key and read with LoadConnection, so that a
// rewrite of one goes through the connection's lock and compare-and-set
// like every other writer. Pending authorizations and entries have no
// version: they are listed as sealed values and replaced only if they
// still hold the bytes that were read (ReplaceSealed), so a rewrite never
// undoes a take, a delete or a put that came between.
type Inventory interface {
	// ListConnections returns the keys of stored connections, readable or
	// not, ordered by Key.String(), after q.After, at most q.Limit of them
	// (only those of q.Provider when it is set). next is the cursor of the
	// page after this one, "" when this page is the last. A connection
	// present during the whole walk is listed exactly once; one created or
	// deleted meanwhile may or may not be.
	ListConnections(ctx context.Context, q ListQuery) (keys []Key, next string, err error)
	// ListSealed returns the stored values of class (ClassPending or
	// ClassEntry), ordered by SealedValue.ID, after q.After, at most
	// q.Limit of them (q.Provider is ignored), as ListConnections pages.
	// Expired ones may be listed; the codec tells (Keyring.InspectSealed).
	ListSealed(ctx context.Context, class Class, q ListQuery) (values []SealedValue, next string, err error)
	// ReplaceSealed stores with in place of v if the store still holds
	// exactly v.Stored under v's name (keeping its expiry), and says
	// whether it did: false if it was taken, deleted or rewritten since.
	ReplaceSealed(ctx context.Context, v SealedValue, with []byte) (bool, error)
	// DeleteSealed deletes v if the store still holds exactly v.Stored
	// under v's name, and says whether it did.
	DeleteSealed(ctx context.Context, v SealedValue) (bool, error)
	// LoadSealed returns the stored value of class named id (a
	// SealedValue.ID), or ErrNotFound.
	LoadSealed(ctx context.Context, class Class, id string) (SealedValue, error)
}

// Class is a class of stored values in an Inventory.
type Class string

const (
	// ClassConnection: a connection (Record), listed by ListConnections.
	ClassConnection Class = "connection"
	// ClassPending: a pending authorization; its ID is the hex SHA-256 of
	// its state.
	ClassPending Class = "pending"
	// ClassEntry: an entry; its ID is "<kind>/<EntryIDHash(id)>".
	ClassEntry Class = "entry"
)

// Page sizes of an Inventory listing.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListQuery is one page of an Inventory listing.
type ListQuery struct {
	// Provider, when set, lists only that provider's connections.
	Provider string
	// After is the cursor: "" for the first page, else a next returned by
	// the previous page (for connections, the Key.String() of the last
	// key listed; for sealed values, the last ID).
	After string
	// Limit is the page size: DefaultListLimit when 0, at most
	// MaxListLimit.
	Limit int
}

// Normalize checks q and returns it with its default limit.
func (q ListQuery) Normalize() (ListQuery, error) {
	switch {
	case q.Limit < 0 || q.Limit > MaxListLimit:
		return q, fmt.Errorf("tokenstore: list limit %d must be between 1 and %d", q.Limit, MaxListLimit)
	case q.Limit == 0:
		q.Limit = DefaultListLimit
	}
	if q.Provider != "" {
		if err := ValidateProvider(q.Provider); err != nil {
			return q, err
		}
	}
	if len(q.After) > 256 {
		return q, errors.New("tokenstore: list cursor is longer than any key")
	}
	return q, nil
}

// SealedValue is a pending authorization or an entry as stored: its name
// holds only hashes, its bytes are what the codec sealed.
type SealedValue struct {
	Class Class
	// ID names the value in every backend: for a pending authorization the
	// hex SHA-256 of its state, for an entry "<kind>/<hash of its id>".
	ID string
	// Name is the backend's storage key of it: the associated data it is
	// sealed with.
	Name string
	// Stored is the value as stored.
	Stored []byte
}

// EntryKind is the kind of an entry's ID ("" for anything else).
func (v SealedValue) EntryKind() string {
	if v.Class != ClassEntry {
		return ""
	}
	kind, _, _ := strings.Cut(v.ID, "/")
	return kind
}

// ValidateSealedID checks that id can name a value of class in storage.
func ValidateSealedID(class Class, id string) error {
	switch class {
	case ClassPending:
		if IsIdentityHash(id) {
			return nil
		}
	case ClassEntry:
		kind, hash, _ := strings.Cut(id, "/")
		if ValidateEntryKind(kind) == nil && IsIdentityHash(hash) {
			return nil
		}
	default:
		return fmt.Errorf("tokenstore: %q is not a class of sealed values (want %s or %s)", class, ClassPending, ClassEntry)
	}
	return fmt.Errorf("tokenstore: %q does not name a %s", id, class)
}

// PageConnections is ListConnections for a backend that walks its
// connections in no particular order (a directory listing, a Redis SCAN):
// walk offers every key it finds (repeats are dropped), and the page of q
// is kept in memory bounded by the page, not by the store.
func PageConnections(q ListQuery, walk func(offer func(Key)) error) ([]Key, string, error) {
	p, err := newPager(q)
	if err != nil {
		return nil, "", err
	}
	err = walk(func(k Key) {
		if q.Provider == "" || k.Provider == q.Provider {
			p.offer(k.String())
		}
	})
	if err != nil {
		return nil, "", err
	}
	page, next := p.page()
	keys := make([]Key, 0, len(page))
	for _, s := range page {
		k, _ := ParseKey(s)
		keys = append(keys, k)
	}
	return keys, next, nil
}

// PageSealed is ListSealed for a backend that walks the IDs of its values
// of class in no particular order, as PageConnections; it loads each of the
// page with load (the backend's LoadSealed), leaving out those taken or
// deleted since the walk.
func PageSealed(ctx context.Context, class Class, q ListQuery, walk func(offer func(id string)) error,
	load func(context.Context, Class, string) (SealedValue, error)) ([]SealedValue, string, error) {
	p, err := newPager(q)
	if err != nil {
		return nil, "", err
	}
	err = walk(func(id string) {
		if ValidateSealedID(class, id) == nil {
			p.offer(id)
		}
	})
	if err != nil {
		return nil, "", err
	}
	page, next := p.page()
	values := make([]SealedValue, 0, len(page))
	for _, id := range page {
		v, err := load(ctx, class, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return values, "", err
		}
		values = append(values, v)
	}
	return values, next, nil
}

// A pager keeps one page of a listing walked in no particular order:
// offered the cursor strings of every candidate, it keeps the Limit
// smallest after After.
type pager struct {
	q    ListQuery
	keep []string // sorted, distinct, at most q.Limit+1
}

func newPager(q ListQuery) (*pager, error) {
	q, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	return &pager{q: q}, nil
}

func (p *pager) offer(s string) {
	if s <= p.q.After {
		return
	}
	i, found := slices.BinarySearch(p.keep, s)
	if found || i > p.q.Limit {
		return
	}
	p.keep = slices.Insert(p.keep, i, s)
	if len(p.keep) > p.q.Limit+1 {
		p.keep = p.keep[:p.q.Limit+1]
	}
}

// page returns the page, in order, and the cursor of the next one ("" when
// none follows: one more than the page was kept only if there is more).
func (p *pager) page() (page []string, next string) {
	if len(p.keep) <= p.q.Limit {
		return p.keep, ""
	}
	page = p.keep[:p.q.Limit]
	return page, page[len(page)-1]
}
