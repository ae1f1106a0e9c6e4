package storagestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// tokenstore.Inventory in a Store. certmagic.Storage lists a directory at
// once, with no order and no paging, so each page lists the directory (the
// connections of one provider, or of all) and keeps the page after the
// cursor (tokenstore.Pager): a walk of N connections in pages of P costs
// N/P directory listings. Fine for an operator's sweep; not for a request.

var _ tokenstore.Inventory = (*Store)(nil)

// ListConnections implements tokenstore.Inventory.
func (s *Store) ListConnections(ctx context.Context, q tokenstore.ListQuery) ([]tokenstore.Key, string, error) {
	base := path.Join(s.prefix, "connections")
	dir := base
	if q.Provider != "" && tokenstore.ValidateProvider(q.Provider) == nil {
		dir = path.Join(base, q.Provider)
	}
	return tokenstore.PageConnections(q, func(offer func(tokenstore.Key)) error {
		return s.walk(ctx, dir, func(name string) {
			if k, ok := tokenstore.ParseKey(strings.TrimPrefix(name, base+"/")); ok {
				offer(k)
			}
		})
	})
}

// ListSealed implements tokenstore.Inventory. A value taken or deleted
// between the listing and its read is left out of the page.
func (s *Store) ListSealed(ctx context.Context, class tokenstore.Class, q tokenstore.ListQuery) ([]tokenstore.SealedValue, string, error) {
	dir, err := s.sealedDir(class)
	if err != nil {
		return nil, "", err
	}
	return tokenstore.PageSealed(ctx, class, q, func(offer func(string)) error {
		return s.walk(ctx, dir, func(name string) { offer(strings.TrimPrefix(name, dir+"/")) })
	}, s.LoadSealed)
}

// walk calls found for every name below dir (none for a missing dir).
func (s *Store) walk(ctx context.Context, dir string, found func(name string)) error {
	names, err := s.storage.List(ctx, dir, true)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tokenstore: listing %s: %w", dir, err)
	}
	for _, name := range names {
		found(name)
	}
	return nil
}

// LoadSealed implements tokenstore.Inventory.
func (s *Store) LoadSealed(ctx context.Context, class tokenstore.Class, id string) (tokenstore.SealedValue, error) {
	v, err := s.sealedValue(class, id)
	if err != nil {
		return v, err
	}
	v.Stored, err = s.storage.Load(ctx, v.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return v, tokenstore.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("tokenstore: loading %s %s: %w", class, v.Name, err)
	}
	return v, nil
}

// ReplaceSealed implements tokenstore.Inventory under the locks that
// TakePending (a pending authorization) or every deletion of an entry
// holds, so that nothing is taken or deleted between the compare and the
// write. Lock-free writers cannot overwrite: AddEntry's fast path links a
// new file only where none exists.
func (s *Store) ReplaceSealed(ctx context.Context, v tokenstore.SealedValue, with []byte) (bool, error) {
	return s.swapSealed(ctx, v, func() error { return s.storage.Store(ctx, v.Name, with) })
}

// DeleteSealed implements tokenstore.Inventory, under the locks of
// ReplaceSealed.
func (s *Store) DeleteSealed(ctx context.Context, v tokenstore.SealedValue) (bool, error) {
	return s.swapSealed(ctx, v, func() error {
		if err := s.storage.Delete(ctx, v.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// swapSealed runs write if v's name still holds v.Stored, under its locks.
func (s *Store) swapSealed(ctx context.Context, v tokenstore.SealedValue, write func() error) (bool, error) {
	want, err := s.sealedValue(v.Class, v.ID)
	if err != nil {
		return false, err
	}
	if want.Name != v.Name {
		return false, fmt.Errorf("tokenstore: %s %s is not named %s in this store", v.Class, v.ID, v.Name)
	}
	mu := s.stripe(v.Name)
	mu.Lock()
	defer mu.Unlock()
	var unlock func()
	if v.Class == tokenstore.ClassPending {
		lock := v.Name + ".take" // TakePending's (takeLocked)
		if err := s.storage.Lock(ctx, lock); err != nil {
			return false, fmt.Errorf("tokenstore: locking pending %s: %w", v.Name, err)
		}
		unlock = func() { _ = s.storage.Unlock(context.WithoutCancel(ctx), lock) }
	} else if unlock, err = s.lockEntry(ctx, v.Name); err != nil {
		return false, err
	}
	defer unlock()
	cur, err := s.storage.Load(ctx, v.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenstore: loading %s %s: %w", v.Class, v.Name, err)
	}
	if !bytes.Equal(cur, v.Stored) {
		return false, nil
	}
	if err := write(); err != nil {
		return false, fmt.Errorf("tokenstore: rewriting %s %s: %w", v.Class, v.Name, err)
	}
	return true, nil
}

// sealedDir is the directory of class's values.
func (s *Store) sealedDir(class tokenstore.Class) (string, error) {
	switch class {
	case tokenstore.ClassPending:
		return path.Join(s.prefix, "pending"), nil
	case tokenstore.ClassEntry:
		return path.Join(s.prefix, "entries"), nil
	}
	return "", tokenstore.ValidateSealedID(class, "")
}

// sealedValue names the value of class with id, without its bytes.
func (s *Store) sealedValue(class tokenstore.Class, id string) (tokenstore.SealedValue, error) {
	v := tokenstore.SealedValue{Class: class, ID: id}
	if err := tokenstore.ValidateSealedID(class, id); err != nil {
		return v, err
	}
	dir, _ := s.sealedDir(class)
	v.Name = path.Join(dir, id)
	return v, nil
}
