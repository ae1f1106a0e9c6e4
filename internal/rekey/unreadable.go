package rekey

import (
	"context"
	"errors"
	"fmt"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// ErrReadable is DeleteUnreadable's answer for a record that opens: it is
// not deleted (disconnect a connection instead).
var ErrReadable = errors.New("rekey: the record opens with a configured key; only unreadable records are deleted here")

// DeleteUnreadable deletes the record of class named id (as Unreadable
// names it) if no configured key opens it, and returns ErrReadable if one
// does, tokenstore.ErrNotFound if there is none. A connection is deleted
// under its lock, after reading it once more, and its deletion published,
// so every instance forgets it and its user is asked to connect again.
func (w *Walker) DeleteUnreadable(ctx context.Context, class tokenstore.Class, id string) error {
	if class != tokenstore.ClassConnection {
		return w.deleteSealed(ctx, class, id)
	}
	k, ok := tokenstore.ParseKey(id)
	if !ok {
		return fmt.Errorf("rekey: %q is not a connection key (<provider>/<identity hash>)", id)
	}
	lock, err := w.Store.LockConnection(ctx, k)
	if err != nil {
		return err
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	switch _, err := w.Store.LoadConnection(ctx, k); {
	case err == nil:
		return ErrReadable
	case !errors.Is(err, tokenstore.ErrUnreadable):
		return err
	}
	if err := w.Store.DeleteConnection(ctx, k); err != nil {
		return err
	}
	// The deletion stands; a lost publication only delays the others'
	// noticing it to their next look at the store.
	_ = w.Store.PublishChange(ctx, k)
	return nil
}

func (w *Walker) deleteSealed(ctx context.Context, class tokenstore.Class, id string) error {
	v, err := w.Store.LoadSealed(ctx, class, id)
	if err != nil {
		return err
	}
	if _, _, err := w.Keys.InspectSealed(v, w.now()); err == nil {
		return ErrReadable
	}
	// Only the bytes judged unreadable: a value rewritten since is kept.
	switch ok, err := w.Store.DeleteSealed(ctx, v); {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("rekey: %s %s changed while it was being deleted; look again", class, id)
	}
	return nil
}
