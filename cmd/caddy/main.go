// Command caddy is Caddy with its standard modules and caddy-fitbit, so
// `go run ./cmd/caddy run --config Caddyfile` works without xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-fitbit/caddy-fitbit"
)

func main() { caddycmd.Main() }
