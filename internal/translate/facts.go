package translate

import (
	"context"
	"net/http"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	health "google.golang.org/api/health/v4"
)

// Settings and identity are small facts of a connection that change rarely
// (a user moves time zone, or reconnects another account): each is cached
// per connection for FactsTTL, so a steady app does not pay a getSettings
// for every Fitbit call. The cache is bounded (FactsSize connections'
// worth) and reads the Engine's clock, so an entry's age is the Engine's
// view of time; golang-lru's expirable cache would start a goroutine per
// Engine that never stops.
const (
	FactsTTL  = 5 * time.Minute
	FactsSize = 20000 // entries: two per connection
)

type connectionKey struct{}

// WithConnection returns ctx naming the connection the Fitbit call is for:
// its settings and identity may then be cached under key for FactsTTL.
// key must name one connection (e.g. the identity and the account it is
// connected to, so that a reconnect to another account is another key),
// so one user's facts are never another's. Without it nothing is cached.
func WithConnection(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, connectionKey{}, key)
}

type factKind uint8

const (
	factSettings factKind = iota + 1
	factIdentity
)

type factKey struct {
	connection string
	kind       factKind
}

type fact struct {
	value   any
	fetched time.Time
}

// factCache holds the facts of recent connections.
type factCache struct {
	lru *lru.Cache[factKey, fact]
}

func newFactCache() *factCache {
	c, _ := lru.New[factKey, fact](FactsSize) // errors only for a size <= 0
	return &factCache{lru: c}
}

// remember returns the fact kind of ctx's connection from the cache when it
// is younger than FactsTTL, else from fetch, which then costs Google calls.
func remember[T any](e *Engine, ctx context.Context, kind factKind, fetch func() (T, error)) (T, error) {
	conn, _ := ctx.Value(connectionKey{}).(string)
	if conn == "" || e.facts == nil {
		return fetch()
	}
	k := factKey{conn, kind}
	if f, ok := e.facts.lru.Get(k); ok && e.now().Sub(f.fetched) < FactsTTL {
		if v, ok := f.value.(T); ok {
			return v, nil
		}
	}
	v, err := fetch()
	if err == nil {
		e.facts.lru.Add(k, fact{v, e.now()})
	}
	return v, err
}

func (e *Engine) identity(ctx context.Context, c *calls) (*health.Identity, error) {
	return remember(e, ctx, factIdentity, func() (id *health.Identity, err error) {
		err = e.do(ctx, c, "", func() (err error) {
			id, err = e.svc.Users.GetIdentity("users/me/identity").Context(ctx).Do()
			return err
		})
		return id, err
	})
}

// InsufficientPermissions is Fitbit's errorType for a call on another
// user's data that the token may not read.
const InsufficientPermissions = "insufficient_permissions"

// checkUser accepts "-" and the connected user's own Fitbit id, which is
// Google's legacyUserId. Fitbit let friends read each other's data with
// permission; the Google Health API has no such sharing, so any other id
// is refused as Fitbit refused a resource the token could not read.
func (e *Engine) checkUser(ctx context.Context, c *calls, r *Request) error {
	if r.User == "-" || r.User == "" {
		return nil
	}
	id, err := e.identity(ctx, c)
	if err != nil {
		return err
	}
	if id.LegacyUserId == "" || id.LegacyUserId != r.User {
		return &Error{Status: http.StatusForbidden, Type: InsufficientPermissions,
			Message: "the gateway answers only the connected user's own data: use - or your own user id in the path"}
	}
	return nil
}
