// Package caddyfitbit is caddy-fitbit: a Caddy v2 plugin that turns Caddy
// into a credential-injecting API gateway for the Fitbit Web API. Importing
// it (xcaddy build --with github.com/caddy-fitbit/caddy-fitbit) registers the
// fitbit app, the fitbit_auth handler, the fitbit reverse-proxy transport and
// their Caddyfile directives.
package caddyfitbit

import (
	_ "github.com/caddy-fitbit/caddy-fitbit/caddyfile" // Caddyfile directives
	_ "github.com/caddy-fitbit/caddy-fitbit/module"    // Caddy modules
)
