package connect

import (
	"context"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Store is what the flow keeps in the token store: the pending
// authorizations between authorize and callback, and entries for their
// reuse and per-identity caps. Any tokenstore.Store has it.
type Store interface {
	PutPending(ctx context.Context, p *tokenstore.Pending) error
	TakePending(ctx context.Context, state string) (*tokenstore.Pending, error)
	PutEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (added bool, err error)
	GetEntry(ctx context.Context, kind, id string) ([]byte, error)
	DeleteEntry(ctx context.Context, kind, id string) error
}
