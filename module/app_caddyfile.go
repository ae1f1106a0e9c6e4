package module

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the app from the fitbit global option:
//
//	fitbit {
//	    client_id         <id>
//	    client_secret     <secret>
//	    app_type          server|client|personal
//	    scopes            <scope...>
//	    redirect_uri      <url>
//	    authorize_url     <url>
//	    token_url         <url>
//	    revoke_url        <url>
//	    api_base          <url>
//	    recover_url       <url>
//	    encryption_key    <base64 key...>     # repeatable; the first encrypts
//	    cache_size        <n>
//	    refresh_skew      <duration>
//	    token_timeout     <duration>
//	    token_retry_budget <duration>
//	    refresh_token_recovery
//	    recovery_interval <duration>
//	    return_to_allowed <prefix...>
//	    connect_url       <url>
//	    storage_prefix    <prefix>
//	    storage           <module> { … }
//	    store             <module> { … }   # fitbit.stores: storage, redis
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "client_id", "client_secret", "app_type", "redirect_uri", "authorize_url", "token_url",
			"revoke_url", "api_base", "recover_url", "connect_url", "storage_prefix":
			if !d.NextArg() {
				return d.ArgErr()
			}
			*a.stringOption(name) = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "scopes", "encryption_key", "encryption_keys", "return_to_allowed":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			switch name {
			case "scopes":
				a.Scopes = append(a.Scopes, args...)
			case "return_to_allowed":
				a.ReturnToAllowed = append(a.ReturnToAllowed, args...)
			default:
				a.EncryptionKeys = append(a.EncryptionKeys, args...)
			}
		case "cache_size":
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 0 {
				return d.Errf("cache_size %q: want a whole number", d.Val())
			}
			a.CacheSize = n
			if d.NextArg() {
				return d.ArgErr()
			}
		case "refresh_token_recovery":
			if d.NextArg() {
				return d.ArgErr()
			}
			a.RefreshTokenRecovery = true
		case "refresh_skew", "token_timeout", "token_retry_budget", "recovery_interval":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("%s %q: %v", name, d.Val(), err)
			}
			*map[string]*caddy.Duration{
				"refresh_skew": &a.RefreshSkew, "token_timeout": &a.TokenTimeout,
				"token_retry_budget": &a.TokenRetryBudget, "recovery_interval": &a.RecoveryInterval,
			}[name] = caddy.Duration(dur)
			if d.NextArg() {
				return d.ArgErr()
			}
		case "storage":
			raw, err := unmarshalStorage(d)
			if err != nil {
				return err
			}
			a.StorageRaw = raw
		case "store":
			if !d.NextArg() {
				return d.ArgErr()
			}
			modName := d.Val()
			mod, err := caddyfile.UnmarshalModule(d, "fitbit.stores."+modName)
			if err != nil {
				return err
			}
			a.StoreRaw = caddyconfig.JSONModuleObject(mod, "module", modName, nil)
		default:
			return d.Errf("fitbit: unknown option %q", name)
		}
	}
	return nil
}

func (a *App) stringOption(name string) *string {
	switch name {
	case "client_id":
		return &a.ClientID
	case "client_secret":
		return &a.ClientSecret
	case "app_type":
		return &a.AppType
	case "redirect_uri":
		return &a.RedirectURI
	case "authorize_url":
		return &a.Endpoints.AuthURL
	case "token_url":
		return &a.Endpoints.TokenURL
	case "revoke_url":
		return &a.Endpoints.RevokeURL
	case "api_base":
		return &a.Endpoints.APIBase
	case "recover_url":
		return &a.Endpoints.RecoverURL
	case "connect_url":
		return &a.ConnectURL
	default: // storage_prefix
		return &a.StoragePrefix
	}
}

var _ caddyfile.Unmarshaler = (*App)(nil)
