package module

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func init() {
	caddy.RegisterModule(StorageStore{})
}

// StoreModule is a module of the fitbit.stores namespace: a place for the
// encrypted connections, with the per-connection lock, compare-and-set and
// refresh markers the refresh protocol needs.
type StoreModule interface {
	// TokenStore opens the store; keys seal every value.
	TokenStore(ctx caddy.Context, keys *tokenstore.Keyring) (tokenstore.Store, error)
}

// StorageStore keeps tokens in a Caddy storage module (Caddy's configured
// storage by default: the file system). Instances sharing the storage share
// connections; the storage's locks serialise their refreshes.
type StorageStore struct {
	// A caddy.storage module; default: Caddy's configured storage.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
	// Prefix of every storage key. Default: "fitbit".
	Prefix string `json:"prefix,omitempty"`

	storage certmagic.Storage
}

// CaddyModule returns the Caddy module information.
func (StorageStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "fitbit.stores.storage",
		New: func() caddy.Module { return new(StorageStore) },
	}
}

// Provision loads the storage module.
func (s *StorageStore) Provision(ctx caddy.Context) error {
	if err := storagestore.ValidatePrefix(s.Prefix); err != nil {
		return fmt.Errorf("fitbit store: prefix: %w", err)
	}
	if s.StorageRaw == nil {
		s.storage = ctx.Storage()
		return nil
	}
	mod, err := ctx.LoadModule(s, "StorageRaw")
	if err != nil {
		return fmt.Errorf("fitbit store: loading storage module: %w", err)
	}
	s.storage, err = mod.(caddy.StorageConverter).CertMagicStorage()
	if err != nil {
		return fmt.Errorf("fitbit store: creating storage: %w", err)
	}
	return nil
}

// TokenStore implements StoreModule.
func (s *StorageStore) TokenStore(_ caddy.Context, keys *tokenstore.Keyring) (tokenstore.Store, error) {
	return storagestore.New(s.storage, keys, s.Prefix), nil
}

// id tells configurations apart for the reload fingerprint.
func (s *StorageStore) id() string {
	desc := fmt.Sprintf("%T", s.storage)
	if str, ok := s.storage.(fmt.Stringer); ok {
		desc += " " + str.String()
	} else if b, err := json.Marshal(s.storage); err == nil {
		desc += " " + string(b)
	}
	return "storage " + s.Prefix + " " + desc
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens:
//
//	store storage {
//	    prefix  <prefix>
//	    storage <module> { … }
//	}
func (s *StorageStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // store module name
	for d.NextBlock(0) {
		switch d.Val() {
		case "prefix":
			prefix, err := singleArg(d)
			if err != nil {
				return err
			}
			s.Prefix = prefix
		case "storage":
			raw, err := unmarshalStorage(d)
			if err != nil {
				return err
			}
			s.StorageRaw = raw
		default:
			return d.Errf("store storage: unknown option %q (want prefix or storage)", d.Val())
		}
	}
	return nil
}

// unmarshalStorage reads "storage <module> { … }" at d.
func unmarshalStorage(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	mod, err := caddyfile.UnmarshalModule(d, "caddy.storage."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(mod, "module", name, nil), nil
}

var (
	_ StoreModule           = (*StorageStore)(nil)
	_ caddy.Provisioner     = (*StorageStore)(nil)
	_ caddyfile.Unmarshaler = (*StorageStore)(nil)
)
