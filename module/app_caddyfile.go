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
//	    cache_sync_interval <duration>
//	    keepalive_idle    <duration>|off     # default 720h (30 days)
//	    purge_reauth_after <duration>|off    # default off
//	    return_to_allowed <prefix...>
//	    connect_url       <url>
//	    storage_prefix    <prefix>
//	    storage           <module> { … }
//	    store             <module> { … }   # fitbit.stores: storage, redis
//	    oauth1_consumer   <key> <secret> [<callback>]   # repeatable; legacy OAuth 1.0a apps
//	    oauth2_app <client_id> {             # repeatable; apps written for Fitbit's OAuth 2.0
//	        client_secret, app_type, redirect_uri <uri...>, scopes <scope...>, provider,
//	        access_token_lifetime <duration>
//	    }
//	    rate_limits { … }                    # see unmarshalRateLimits
//	    budget off | { per_user <n>; project <n>; instances <n> }   # calls to Fitbit: see unmarshalBudget
//	    translate [<registration>] off|fallback|always   # Fitbit calls answered from Google Health
//	    provider <name> [<preset>] {         # more registrations, e.g. google_health
//	        client_id, client_secret, app_type, scopes, redirect_uri,
//	        authorize_url, token_url, revoke_url, api_base, recover_url,
//	        budget off | { … }
//	    }
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := a.unmarshalOption(d); err != nil {
			return err
		}
	}
	return nil
}

// unmarshalOption reads the option at d: a string, a list or a duration,
// else one with its own syntax.
func (a *App) unmarshalOption(d *caddyfile.Dispenser) error {
	name := d.Val()
	if target := a.stringOption(name); target != nil {
		val, err := singleArg(d)
		if err != nil {
			return err
		}
		*target = val
		return nil
	}
	if target := a.listOption(name); target != nil {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		*target = append(*target, args...)
		return nil
	}
	if target := a.durationOption(name); target != nil {
		if !d.NextArg() {
			return d.ArgErr()
		}
		dur, err := caddy.ParseDuration(d.Val())
		switch {
		case d.Val() == "off" && (name == "keepalive_idle" || name == "purge_reauth_after"):
			dur = -1 // JSON: a negative duration
		case err != nil:
			return d.Errf("%s %q: %v", name, d.Val(), err)
		}
		*target = caddy.Duration(dur)
		if d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	switch name {
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
	case "storage":
		raw, err := unmarshalStorage(d)
		if err != nil {
			return err
		}
		a.StorageRaw = raw
	case "provider":
		return a.unmarshalProvider(d)
	case "store":
		return a.unmarshalStore(d)
	case "oauth1_consumer":
		return a.unmarshalOAuth1Consumer(d)
	case "oauth2_app":
		return a.unmarshalOAuth2App(d)
	case "translate":
		tr, err := parseTranslate(d.RemainingArgs())
		if err != nil {
			return d.Errf("fitbit: %v", err)
		}
		a.Translate = tr
	case "budget":
		b, err := unmarshalBudget(d)
		if err != nil {
			return err
		}
		a.Budget = b
	case "rate_limits":
		rl, err := unmarshalRateLimits(d)
		if err != nil {
			return err
		}
		a.RateLimits = rl
	default:
		return d.Errf("fitbit: unknown option %q", name)
	}
	return nil
}

// unmarshalStore reads "store <module> { … }".
func (a *App) unmarshalStore(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	modName := d.Val()
	mod, err := caddyfile.UnmarshalModule(d, "fitbit.stores."+modName)
	if err != nil {
		return err
	}
	a.StoreRaw = caddyconfig.JSONModuleObject(mod, "module", modName, nil)
	return nil
}

// unmarshalOAuth1Consumer reads "oauth1_consumer <key> <secret> [<callback>]".
func (a *App) unmarshalOAuth1Consumer(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 || len(args) > 3 {
		return d.Errf("fitbit: oauth1_consumer takes <key> <secret> [<callback>]")
	}
	c := OAuth1Consumer{Key: args[0], Secret: args[1]}
	if len(args) == 3 {
		c.Callback = args[2]
	}
	a.OAuth1Consumers = append(a.OAuth1Consumers, c)
	return nil
}

// unmarshalOAuth2App reads "oauth2_app <client_id> { … }".
func (a *App) unmarshalOAuth2App(d *caddyfile.Dispenser) error {
	id, err := singleArg(d)
	if err != nil {
		return d.Errf("fitbit: oauth2_app takes <client_id> and a block")
	}
	c := OAuth2App{ClientID: id}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt, args := d.Val(), d.RemainingArgs()
		switch {
		case len(args) == 0:
			return d.Errf("fitbit: oauth2_app %s: %s needs a value", id, opt)
		case opt == "redirect_uri":
			c.RedirectURIs = append(c.RedirectURIs, args...)
		case opt == "scopes":
			c.Scopes = append(c.Scopes, args...)
		case len(args) > 1:
			return d.Errf("fitbit: oauth2_app %s: %s takes one value", id, opt)
		case opt == "client_secret":
			c.ClientSecret = args[0]
		case opt == "app_type":
			c.AppType = args[0]
		case opt == "provider":
			c.Provider = args[0]
		case opt == "access_token_lifetime":
			dur, err := caddy.ParseDuration(args[0])
			if err != nil {
				return d.Errf("fitbit: oauth2_app %s: access_token_lifetime: %v", id, err)
			}
			c.AccessTokenLifetime = caddy.Duration(dur)
		default:
			return d.Errf("fitbit: oauth2_app %s: unknown option %q (want client_secret, app_type, redirect_uri, scopes, provider or access_token_lifetime)", id, opt)
		}
	}
	a.OAuth2Apps = append(a.OAuth2Apps, c)
	return nil
}

// unmarshalProvider reads "provider <name> [<preset>] { … }".
func (a *App) unmarshalProvider(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	name := d.Val()
	c := &Provider{}
	if d.NextArg() {
		c.Preset = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	if _, dup := a.Providers[name]; dup {
		return d.Errf("fitbit: provider %q is configured twice", name)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if opt == "budget" {
			b, err := unmarshalBudget(d)
			if err != nil {
				return err
			}
			c.Budget = b
			continue
		}
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		if opt == "scopes" {
			c.Scopes = append(c.Scopes, args...)
			continue
		}
		if len(args) != 1 {
			return d.ArgErr()
		}
		target := map[string]*string{
			"preset": &c.Preset, "client_id": &c.ClientID, "client_secret": &c.ClientSecret, "app_type": &c.AppType,
			"redirect_uri": &c.RedirectURI, "authorize_url": &c.Endpoints.AuthURL, "token_url": &c.Endpoints.TokenURL,
			"revoke_url": &c.Endpoints.RevokeURL, "api_base": &c.Endpoints.APIBase, "recover_url": &c.Endpoints.RecoverURL,
		}[opt]
		if target == nil {
			return d.Errf("fitbit: provider %s: unknown option %q", name, opt)
		}
		*target = args[0]
	}
	if a.Providers == nil {
		a.Providers = map[string]*Provider{}
	}
	a.Providers[name] = c
	return nil
}

// stringOption is the field of a one-argument string option.
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
	case "storage_prefix":
		return &a.StoragePrefix
	}
	return nil
}

// listOption is the list an option of one or more arguments appends to.
func (a *App) listOption(name string) *[]string {
	switch name {
	case "scopes":
		return &a.Scopes
	case "return_to_allowed":
		return &a.ReturnToAllowed
	case "encryption_key", "encryption_keys":
		return &a.EncryptionKeys
	}
	return nil
}

// durationOption is the field of a duration option.
func (a *App) durationOption(name string) *caddy.Duration {
	return map[string]*caddy.Duration{
		"refresh_skew": &a.RefreshSkew, "token_timeout": &a.TokenTimeout,
		"token_retry_budget": &a.TokenRetryBudget, "recovery_interval": &a.RecoveryInterval,
		"cache_sync_interval": &a.CacheSyncInterval, "keepalive_idle": &a.KeepaliveIdle,
		"purge_reauth_after": &a.PurgeReauthAfter,
	}[name]
}

var _ caddyfile.Unmarshaler = (*App)(nil)
