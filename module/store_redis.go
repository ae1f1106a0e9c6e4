package module

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func init() {
	caddy.RegisterModule(RedisStore{})
}

// RedisStore keeps tokens in Redis. Its compare-and-set on the record
// version is one Lua script, so even an instance that lost its lock during a
// pause can never overwrite a newer pair with an older one. Run Redis with
// persistence (appendonly yes): a Redis that forgets is a lost token.
type RedisStore struct {
	// host:port, or the path of a Unix socket. Placeholders are expanded.
	Address string `json:"address,omitempty"`
	// ACL user name (optional) and password; use placeholders.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Database number. Default: 0.
	DB int `json:"db,omitempty"`
	// TLS to Redis; absent means plain TCP.
	TLS *RedisTLS `json:"tls,omitempty"`
	// Prefix of every key. Default: "fitbit". Use a hash tag ("{fitbit}")
	// with Redis Cluster.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Lease of a connection lock, renewed while held. Default: 15s.
	LockTTL caddy.Duration `json:"lock_ttl,omitempty"`
	// Dial timeout. Default: go-redis's (5s).
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// Connection pool size. Default: go-redis's (10 per CPU).
	PoolSize int `json:"pool_size,omitempty"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Server name to verify; default: the address's host.
	ServerName string `json:"server_name,omitempty"`
	// PEM file of CAs to trust instead of the system's.
	CAFile string `json:"ca_file,omitempty"`
	// Skip certificate verification (testing only).
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (RedisStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "fitbit.stores.redis",
		New: func() caddy.Module { return new(RedisStore) },
	}
}

// TokenStore implements StoreModule. It does not need Redis to be up: a
// store that is down answers 503 until it is back.
func (r *RedisStore) TokenStore(_ caddy.Context, keys *tokenstore.Keyring) (tokenstore.Store, error) {
	repl := caddy.NewReplacer()
	opts := redisstore.Options{
		Addr:        repl.ReplaceKnown(r.Address, ""),
		Username:    repl.ReplaceKnown(r.Username, ""),
		Password:    repl.ReplaceKnown(r.Password, ""),
		DB:          r.DB,
		KeyPrefix:   r.KeyPrefix,
		LockTTL:     time.Duration(r.LockTTL),
		DialTimeout: time.Duration(r.DialTimeout),
		PoolSize:    r.PoolSize,
	}
	if r.TLS != nil {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLS.ServerName, InsecureSkipVerify: r.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, documented as testing only
		if cfg.ServerName == "" {
			if host, _, ok := strings.Cut(opts.Addr, ":"); ok {
				cfg.ServerName = host
			}
		}
		if r.TLS.CAFile != "" {
			pem, err := os.ReadFile(r.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis store: tls ca_file: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis store: tls ca_file %s holds no PEM certificate", r.TLS.CAFile)
			}
		}
		opts.TLS = cfg
	}
	st, err := redisstore.New(opts, keys)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	return st, nil
}

// UnmarshalCaddyfile sets up the store from Caddyfile tokens:
//
//	store redis {
//	    address      <host:port>
//	    username     <user>
//	    password     <password>
//	    db           <n>
//	    key_prefix   <prefix>
//	    lock_ttl     <duration>
//	    dial_timeout <duration>
//	    pool_size    <n>
//	    tls {
//	        server_name <name>
//	        ca_file     <path>
//	        insecure_skip_verify
//	    }
//	}
func (r *RedisStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // store module name
	if d.NextArg() {
		r.Address = d.Val() // store redis <address>
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(0) {
		name := d.Val()
		if name == "tls" {
			r.TLS = new(RedisTLS)
			if d.NextArg() {
				return d.ArgErr()
			}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				switch d.Val() {
				case "server_name", "ca_file":
					opt := d.Val()
					if !d.NextArg() {
						return d.ArgErr()
					}
					if opt == "server_name" {
						r.TLS.ServerName = d.Val()
					} else {
						r.TLS.CAFile = d.Val()
					}
				case "insecure_skip_verify":
					r.TLS.InsecureSkipVerify = true
				default:
					return d.Errf("store redis: tls: unknown option %q", d.Val())
				}
			}
			continue
		}
		val, err := singleArg(d)
		if err != nil {
			return err
		}
		switch name {
		case "address":
			r.Address = val
		case "username":
			r.Username = val
		case "password":
			r.Password = val
		case "key_prefix":
			r.KeyPrefix = val
		case "db", "pool_size":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return d.Errf("store redis: %s %q: want a whole number", name, val)
			}
			if name == "db" {
				r.DB = n
			} else {
				r.PoolSize = n
			}
		case "lock_ttl", "dial_timeout":
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return d.Errf("store redis: %s %q: %v", name, val, err)
			}
			if name == "lock_ttl" {
				r.LockTTL = caddy.Duration(dur)
			} else {
				r.DialTimeout = caddy.Duration(dur)
			}
		default:
			return d.Errf("store redis: unknown option %q (want address, username, password, db, key_prefix, lock_ttl, dial_timeout, pool_size or tls)", name)
		}
	}
	return nil
}

var (
	_ StoreModule           = (*RedisStore)(nil)
	_ caddyfile.Unmarshaler = (*RedisStore)(nil)
)
