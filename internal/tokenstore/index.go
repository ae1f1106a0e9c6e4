package tokenstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// An Index lists, per owner (an identity hash), the ids of entries of
// another kind that belong to it: the OAuth 1.0a access tokens or the
// OAuth 2.0 grants of an identity, which the entries themselves cannot be
// listed by (their ids are stored only as hashes). It needs no lock: each
// value goes into its own slot, <owner>/<n>, taken with AddEntry, of which
// exactly one concurrent caller wins. Slots are never rewritten, so an
// index only grows: a reader skips the ids whose entry is gone (revoked),
// and MaxIndexSlots bounds it.
type Index struct {
	Entries interface {
		AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (bool, error)
		GetEntry(ctx context.Context, kind, id string) ([]byte, error)
	}
	Kind string // the index's entry kind
}

// MaxIndexSlots bounds the values indexed per owner.
const MaxIndexSlots = 256

// ErrIndexFull is Add's answer for an owner with MaxIndexSlots values.
var ErrIndexFull = errors.New("tokenstore: the owner's index is full")

// Add indexes value under owner. The slot never expires: it is read until
// the entry it names is gone.
func (x Index) Add(ctx context.Context, owner string, value []byte) error {
	for n := range MaxIndexSlots {
		added, err := x.Entries.AddEntry(ctx, x.Kind, slotID(owner, n), value, time.Time{})
		if err != nil || added {
			return err
		}
	}
	return fmt.Errorf("%w (%d values)", ErrIndexFull, MaxIndexSlots)
}

// Values returns owner's values, oldest first.
func (x Index) Values(ctx context.Context, owner string) ([][]byte, error) {
	var out [][]byte
	for n := range MaxIndexSlots {
		b, err := x.Entries.GetEntry(ctx, x.Kind, slotID(owner, n))
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Live returns owner's indexed ids whose entry of kind still exists (the
// others were deleted: revoked), oldest first, with their values decoded
// from JSON as T; a value that does not decode, or that owned refuses, is
// left out.
func Live[T any](ctx context.Context, x Index, owner, kind string, owned func(*T) bool) (ids []string, values []T, err error) {
	all, err := x.Values(ctx, owner)
	if err != nil {
		return nil, nil, err
	}
	for _, id := range all {
		b, err := x.Entries.GetEntry(ctx, kind, string(id))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		var v T
		if json.Unmarshal(b, &v) == nil && owned(&v) {
			ids, values = append(ids, string(id)), append(values, v)
		}
	}
	return ids, values, nil
}

func slotID(owner string, n int) string { return owner + "/" + strconv.Itoa(n) }
