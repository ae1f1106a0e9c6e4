package storetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The Inventory tests (Run's Inventory*): connections listed in order, in
// pages, per provider, unreadable ones too; pending authorizations and
// entries listed as sealed values and replaced or deleted only if
// unchanged.

// listAll pages through st's connections (of provider, "" all) with limit.
func listAll(t *testing.T, st tokenstore.Store, provider string, limit int) []tokenstore.Key {
	t.Helper()
	var all []tokenstore.Key
	q := tokenstore.ListQuery{Provider: provider, Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("ListConnections never reached the last page")
		}
		keys, next, err := st.ListConnections(testCtx(t), q)
		if err != nil {
			t.Fatalf("ListConnections(%+v): %v", q, err)
		}
		if len(keys) > limit {
			t.Fatalf("ListConnections(limit %d) returned %d keys", limit, len(keys))
		}
		if next != "" && len(keys) != limit {
			t.Fatalf("ListConnections returned a short page (%d of %d) with a next cursor", len(keys), limit)
		}
		all = append(all, keys...)
		if next == "" {
			return all
		}
		if next != keys[len(keys)-1].String() {
			t.Fatalf("next cursor %q is not the last key of the page", next)
		}
		q.After = next
	}
}

func byString(keys []tokenstore.Key) []tokenstore.Key {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(x, y tokenstore.Key) int { return strings.Compare(x.String(), y.String()) })
	return keys
}

func (s *suite) testListConnectionsPaged(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	if keys, next, err := a.ListConnections(ctx, tokenstore.ListQuery{}); err != nil || len(keys) != 0 || next != "" {
		t.Fatalf("ListConnections of an empty store = %v, %q, %v", keys, next, err)
	}
	var all, fitbit []tokenstore.Key
	// "fit" sorts after "fit-b" by Key.String() ('-' < '/'): the order is
	// that of the strings, which the cursor is.
	for i, provider := range []string{"fitbit", "google", "fitbit", "fit", "fit-b", "fitbit", "google", "fitbit"} {
		rec := NewRecord(provider, unique("inv"))
		mustSave(t, []tokenstore.Store{a, b}[i%2], rec)
		all = append(all, tokenstore.KeyOfRecord(rec))
		if provider == "fitbit" {
			fitbit = append(fitbit, tokenstore.KeyOfRecord(rec))
		}
	}
	// A pending authorization and an entry are not connections.
	if err := a.PutPending(ctx, NewPending("fitbit", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	mustPutEntry(t, a, "inv", unique("id"), []byte("v"), time.Time{})

	want := byString(all)
	for _, st := range []tokenstore.Store{a, b} {
		for _, limit := range []int{1, 3, 8, 100} {
			if got := listAll(t, st, "", limit); !slices.Equal(got, want) {
				t.Fatalf("ListConnections in pages of %d = %v, want %v", limit, got, want)
			}
		}
		if got := listAll(t, st, "fitbit", 3); !slices.Equal(got, byString(fitbit)) {
			t.Fatalf("ListConnections of fitbit = %v, want %v", got, byString(fitbit))
		}
		if got := listAll(t, st, "fit", 2); len(got) != 1 || got[0].Provider != "fit" {
			t.Fatalf("ListConnections of fit = %v, want its one connection (not fit-b's or fitbit's)", got)
		}
		if got := listAll(t, st, "none", 2); len(got) != 0 {
			t.Fatalf("ListConnections of a provider with none = %v", got)
		}
	}
	// A deleted connection is gone from the listing; one after the cursor
	// that was not there before is in it.
	if err := b.DeleteConnection(ctx, want[2]); err != nil {
		t.Fatal(err)
	}
	keys, next, err := a.ListConnections(ctx, tokenstore.ListQuery{After: want[1].String(), Limit: 2})
	if err != nil || !slices.Equal(keys, want[3:5]) || next != want[4].String() {
		t.Fatalf("ListConnections after a delete = %v, %q, %v; want %v", keys, next, err, want[3:5])
	}
}

func (s *suite) testListQueryValidation(t *testing.T) {
	a, _ := s.stores(t)
	ctx := testCtx(t)
	for _, q := range []tokenstore.ListQuery{
		{Limit: -1},
		{Limit: tokenstore.MaxListLimit + 1},
		{Provider: "Bad/Name"},
		{After: strings.Repeat("x", 300)},
	} {
		if _, _, err := a.ListConnections(ctx, q); err == nil {
			t.Fatalf("ListConnections(%+v) accepted an invalid query", q)
		}
		if _, _, err := a.ListSealed(ctx, tokenstore.ClassPending, q); err == nil && q.Provider == "" {
			t.Fatalf("ListSealed(%+v) accepted an invalid query", q)
		}
	}
	for _, class := range []tokenstore.Class{"", tokenstore.ClassConnection, "other"} {
		if _, _, err := a.ListSealed(ctx, class, tokenstore.ListQuery{}); err == nil {
			t.Fatalf("ListSealed(%q) accepted a class that has no sealed values", class)
		}
	}
	for _, id := range []string{"", "../x", strings.Repeat("a", 64) + "/x", "Kind/" + strings.Repeat("a", 64)} {
		if _, err := a.LoadSealed(ctx, tokenstore.ClassEntry, id); err == nil || errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("LoadSealed(entry %q) = %v, want a validation error", id, err)
		}
	}
	if _, err := a.LoadSealed(ctx, tokenstore.ClassPending, strings.Repeat("a", 64)); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("LoadSealed of a missing pending = %v, want ErrNotFound", err)
	}
}

func (s *suite) testListUnreadable(t *testing.T) {
	if s.opts.Tamper == nil {
		t.Skip("no Options.Tamper for this backend")
	}
	a, b := s.stores(t)
	rec := NewRecord("fitbit", unique("tampered"))
	mustSave(t, a, rec)
	k := tokenstore.KeyOfRecord(rec)
	s.opts.Tamper(t, k)
	if got := listAll(t, b, "", 10); !slices.Equal(got, []tokenstore.Key{k}) {
		t.Fatalf("ListConnections = %v, want the unreadable connection %v listed", got, k)
	}
}

// testSealedBy checks that a loaded record names the key that sealed it
// (a key id: 16 hex digits), the same on every handle, and that saving
// does not store it.
func (s *suite) testSealedBy(t *testing.T) {
	a, b := s.stores(t)
	rec := NewRecord("fitbit", unique("sealed"))
	rec.SealedBy = "not-stored"
	mustSave(t, a, rec)
	k := tokenstore.KeyOfRecord(rec)
	got := mustLoad(t, b, k)
	if len(got.SealedBy) != 16 || strings.Trim(got.SealedBy, "0123456789abcdef") != "" {
		t.Fatalf("SealedBy = %q, want a key id (16 hex digits)", got.SealedBy)
	}
	if again := mustLoad(t, a, k); again.SealedBy != got.SealedBy {
		t.Fatalf("SealedBy differs between handles: %q, %q", again.SealedBy, got.SealedBy)
	}
}

func (s *suite) testSealedPending(t *testing.T) {
	a, b := s.stores(t)
	ctx := testCtx(t)
	var pend []*tokenstore.Pending
	for range 3 {
		p := NewPending("fitbit", time.Now().Add(time.Hour))
		if err := a.PutPending(ctx, p); err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	values := listSealed(t, b, tokenstore.ClassPending, 2)
	if len(values) != 3 {
		t.Fatalf("ListSealed(pending) = %d values, want 3", len(values))
	}
	for _, v := range values {
		if v.Class != tokenstore.ClassPending || !tokenstore.IsIdentityHash(v.ID) || v.Name == "" || len(v.Stored) == 0 {
			t.Fatalf("ListSealed(pending) value %+v is not named or holds nothing", v)
		}
		loaded, err := a.LoadSealed(ctx, tokenstore.ClassPending, v.ID)
		if err != nil || loaded.Name != v.Name || !bytes.Equal(loaded.Stored, v.Stored) {
			t.Fatalf("LoadSealed(%s) = %v, %v; want what ListSealed listed", v.ID, loaded.Name, err)
		}
	}
	v := values[0]
	// Replaced with itself: still there, still taken once.
	if ok, err := a.ReplaceSealed(ctx, v, v.Stored); !ok || err != nil {
		t.Fatalf("ReplaceSealed(unchanged) = %v, %v", ok, err)
	}
	// A value that was read before a change is not written.
	stale := v
	stale.Stored = append(slices.Clone(v.Stored[:len(v.Stored)-1]), v.Stored[len(v.Stored)-1]^1)
	if ok, err := b.ReplaceSealed(ctx, stale, v.Stored); ok || err != nil {
		t.Fatalf("ReplaceSealed(stale) = %v, %v; want false", ok, err)
	}
	if ok, err := b.DeleteSealed(ctx, stale); ok || err != nil {
		t.Fatalf("DeleteSealed(stale) = %v, %v; want false", ok, err)
	}
	// A renamed value is refused.
	moved := v
	moved.ID = values[1].ID
	if _, err := a.ReplaceSealed(ctx, moved, v.Stored); err == nil {
		t.Fatal("ReplaceSealed wrote a value under a name that is not its ID's")
	}
	for _, p := range pend {
		if _, err := b.TakePending(ctx, p.State); err != nil {
			t.Fatalf("TakePending after ReplaceSealed: %v", err)
		}
	}
	// Taken: a replace does not bring it back.
	if ok, err := a.ReplaceSealed(ctx, v, v.Stored); ok || err != nil {
		t.Fatalf("ReplaceSealed of a taken pending = %v, %v; want false", ok, err)
	}
	if _, err := a.LoadSealed(ctx, tokenstore.ClassPending, v.ID); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("LoadSealed of a taken pending = %v, want ErrNotFound", err)
	}
	if got := listSealed(t, a, tokenstore.ClassPending, 10); len(got) != 0 {
		t.Fatalf("ListSealed(pending) after every take = %d values", len(got))
	}
}

func (s *suite) testSealedEntries(t *testing.T) {
	a, b, clk := s.entryStores(t)
	ctx := testCtx(t)
	ids := map[string]string{} // SealedValue.ID → value
	for i, kind := range []string{"inv_a", "inv_b", "inv_a"} {
		id, value := unique("id"), unique("value")
		expires := clk.now().Add(time.Hour)
		if i == 1 {
			expires = time.Time{}
		}
		mustPutEntry(t, a, kind, id, []byte(value), expires)
		ids[kind+"/"+tokenstore.EntryIDHash(id)] = id
	}
	values := listSealed(t, b, tokenstore.ClassEntry, 2)
	if len(values) != len(ids) {
		t.Fatalf("ListSealed(entry) = %d values, want %d", len(values), len(ids))
	}
	for _, v := range values {
		if _, ok := ids[v.ID]; !ok || v.Class != tokenstore.ClassEntry || len(v.Stored) == 0 {
			t.Fatalf("ListSealed(entry) listed %q, not one of the entries put", v.ID)
		}
		if v.EntryKind() != "inv_a" && v.EntryKind() != "inv_b" {
			t.Fatalf("EntryKind of %q = %q", v.ID, v.EntryKind())
		}
	}
	v := values[0]
	kind, id := v.EntryKind(), ids[v.ID]
	before, err := a.GetEntry(ctx, kind, id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.ReplaceSealed(ctx, v, v.Stored); !ok || err != nil {
		t.Fatalf("ReplaceSealed(unchanged entry) = %v, %v", ok, err)
	}
	wantEntry(t, b, kind, id, before)
	// Rewritten since it was read (PutEntry seals with a new nonce): the
	// old bytes neither replace nor delete it.
	mustPutEntry(t, b, kind, id, []byte("rewritten"), time.Time{})
	if ok, err := a.ReplaceSealed(ctx, v, v.Stored); ok || err != nil {
		t.Fatalf("ReplaceSealed of a rewritten entry = %v, %v; want false", ok, err)
	}
	if ok, err := a.DeleteSealed(ctx, v); ok || err != nil {
		t.Fatalf("DeleteSealed of a rewritten entry = %v, %v; want false", ok, err)
	}
	wantEntry(t, a, kind, id, []byte("rewritten"))
	cur, err := b.LoadSealed(ctx, tokenstore.ClassEntry, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.DeleteSealed(ctx, cur); !ok || err != nil {
		t.Fatalf("DeleteSealed(current) = %v, %v", ok, err)
	}
	wantNoEntry(t, a, kind, id)
	if ok, err := a.ReplaceSealed(ctx, cur, cur.Stored); ok || err != nil {
		t.Fatalf("ReplaceSealed of a deleted entry = %v, %v; want false (not recreated)", ok, err)
	}
	wantNoEntry(t, b, kind, id)
}

// listSealed pages through st's values of class with limit.
func listSealed(t *testing.T, st tokenstore.Store, class tokenstore.Class, limit int) []tokenstore.SealedValue {
	t.Helper()
	var all []tokenstore.SealedValue
	q := tokenstore.ListQuery{Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("ListSealed never reached the last page")
		}
		values, next, err := st.ListSealed(testCtx(t), class, q)
		if err != nil {
			t.Fatalf("ListSealed(%s, %+v): %v", class, q, err)
		}
		all = append(all, values...)
		if next == "" {
			break
		}
		q.After = next
	}
	if !slices.IsSortedFunc(all, func(x, y tokenstore.SealedValue) int { return strings.Compare(x.ID, y.ID) }) ||
		len(slices.CompactFunc(slices.Clone(all), func(x, y tokenstore.SealedValue) bool { return x.ID == y.ID })) != len(all) {
		t.Fatalf("ListSealed(%s) is not in ID order, each once", class)
	}
	return all
}
