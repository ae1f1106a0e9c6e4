package tokenstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPagerKeepsThePageAfterTheCursor(t *testing.T) {
	var all []string
	for i := range 50 {
		all = append(all, fmt.Sprintf("k%02d", i))
	}
	// Offered in a scrambled order, with repeats (as SCAN may).
	offered := slices.Clone(all)
	for i := range offered {
		j := (i * 37) % len(offered)
		offered[i], offered[j] = offered[j], offered[i]
	}
	offered = append(offered, all[10:20]...)
	var got []string
	q := ListQuery{Limit: 7}
	for {
		p, err := newPager(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range offered {
			p.offer(s)
		}
		page, next := p.page()
		got = append(got, page...)
		if next == "" {
			break
		}
		q.After = next
	}
	if !slices.Equal(got, all) {
		t.Fatalf("pages = %v, want %v", got, all)
	}
}

func TestListQueryNormalize(t *testing.T) {
	if q, err := (ListQuery{}).Normalize(); err != nil || q.Limit != DefaultListLimit {
		t.Fatalf("Normalize() = %+v, %v", q, err)
	}
	for _, q := range []ListQuery{{Limit: -1}, {Limit: MaxListLimit + 1}, {Provider: "A"}, {After: strings.Repeat("a", 257)}} {
		if _, err := q.Normalize(); err == nil {
			t.Fatalf("Normalize(%+v) accepted it", q)
		}
	}
}

func keyringOf(t *testing.T, seeds ...byte) *Keyring {
	t.Helper()
	var keys [][]byte
	for _, s := range seeds {
		keys = append(keys, bytes.Repeat([]byte{s}, KeySize))
	}
	kr, err := NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// A rotation as the codec sees it: a value sealed by the old key is
// inspected as the old key's, resealed under the new one (same associated
// data, same entry expiry), and then opens with the new key alone.
func TestCodecInspectAndReseal(t *testing.T) {
	oldKR, rotated, newKR := keyringOf(t, 1), keyringOf(t, 2, 1), keyringOf(t, 2)
	oldID, newID := oldKR.PrimaryKeyID(), newKR.PrimaryKeyID()
	if ids := rotated.KeyIDs(); !slices.Equal(ids, []string{newID, oldID}) {
		t.Fatalf("KeyIDs = %v, want [%s %s]", ids, newID, oldID)
	}
	now := time.Unix(1796000000, 0)

	pendName := "fitbit/pending/" + IdentityHash("state")
	p := &Pending{State: "state", Provider: "fitbit", Identity: "alice", Expires: now.Add(time.Minute)}
	sealedPending, err := oldKR.SealPending(pendName, p)
	if err != nil {
		t.Fatal(err)
	}
	entryName := "fitbit/entries/k/" + EntryIDHash("id")
	sealedEntry, err := oldKR.SealEntry(entryName, []byte("value"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []SealedValue{
		{Class: ClassPending, ID: IdentityHash("state"), Name: pendName, Stored: sealedPending},
		{Class: ClassEntry, ID: "k/" + EntryIDHash("id"), Name: entryName, Stored: sealedEntry},
	} {
		id, expired, err := rotated.InspectSealed(v, now)
		if err != nil || id != oldID || expired {
			t.Fatalf("%s: InspectSealed = %q, %v, %v; want %s, live", v.Class, id, expired, err, oldID)
		}
		if _, _, err := rotated.InspectSealed(v, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, expired, _ := rotated.InspectSealed(v, now.Add(2*time.Hour)); !expired {
			t.Fatalf("%s: not expired two hours on", v.Class)
		}
		if id, _, err := newKR.InspectSealed(v, now); !errors.Is(err, ErrDecrypt) || id != oldID {
			t.Fatalf("%s: InspectSealed without the old key = %q, %v; want its header's id and ErrDecrypt", v.Class, id, err)
		}
		moved := v
		moved.Name += "x"
		if _, _, err := rotated.InspectSealed(moved, now); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s: a value under another name opened: %v", v.Class, err)
		}
		if _, err := newKR.ResealValue(v); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s: ResealValue of a value no key opens = %v", v.Class, err)
		}
		resealed, err := rotated.ResealValue(v)
		if err != nil {
			t.Fatal(err)
		}
		v.Stored = resealed
		if id, _, err := newKR.InspectSealed(v, now); err != nil || id != newID {
			t.Fatalf("%s: resealed InspectSealed = %q, %v; want %s", v.Class, id, err, newID)
		}
	}
	// The resealed ones open through the codec as before.
	v := SealedValue{Class: ClassPending, Name: pendName, Stored: sealedPending}
	resealed, _ := rotated.ResealValue(v)
	if got, err := newKR.OpenPending(pendName, resealed, "state", now); err != nil || got.Identity != "alice" {
		t.Fatalf("OpenPending(resealed) = %v, %v", got, err)
	}
	v = SealedValue{Class: ClassEntry, Name: entryName, Stored: sealedEntry}
	resealed, _ = rotated.ResealValue(v)
	if got, err := newKR.OpenEntry(entryName, resealed, now); err != nil || string(got) != "value" {
		t.Fatalf("OpenEntry(resealed) = %q, %v", got, err)
	}
	if _, err := newKR.OpenEntry(entryName, resealed, now.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the resealed entry lost its expiry: %v", err)
	}
}

func TestCodecRecordSealedBy(t *testing.T) {
	oldKR, rotated := keyringOf(t, 1), keyringOf(t, 2, 1)
	k := KeyOf("fitbit", "alice")
	rec := &Record{Provider: k.Provider, IdentityHash: k.IdentityHash, RefreshToken: "r", SealedBy: "ignored"}
	sealed, _ := oldKR.SealRecord("c", rec)
	got, err := rotated.OpenRecord("c", sealed, k)
	if err != nil || got.SealedBy != oldKR.PrimaryKeyID() {
		t.Fatalf("OpenRecord SealedBy = %q, %v; want %s", got.SealedBy, err, oldKR.PrimaryKeyID())
	}
	b, _ := json.Marshal(rec)
	if bytes.Contains(b, []byte("ignored")) {
		t.Fatal("SealedBy is in the stored form")
	}
	if SealedKeyID([]byte("short")) != "" {
		t.Fatal("SealedKeyID of a value that is not sealed")
	}
}
