// Package caddyfitbit is caddy-fitbit: a Caddy v2 plugin that turns Caddy
// into a credential-injecting API gateway for the Fitbit Web API. Importing
// it (xcaddy build --with github.com/caddy-fitbit/caddy-fitbit) registers the
// fitbit app, the fitbit_auth handler, the fitbit reverse-proxy transport,
// their Caddyfile directives, the admin API and the `caddy fitbit` commands.
package caddyfitbit

import (
	_ "github.com/caddy-fitbit/caddy-fitbit/caddyfile" // Caddyfile directives
	_ "github.com/caddy-fitbit/caddy-fitbit/command"   // caddy fitbit …
	_ "github.com/caddy-fitbit/caddy-fitbit/module"    // Caddy modules
)
