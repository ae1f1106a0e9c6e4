package module

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// singleArg reads the one argument of the current (sub)directive.
func singleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	val := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return val, nil
}

// optionalPrefix reads "<directive> [<prefix>]" into prefix.
func optionalPrefix(d *caddyfile.Dispenser, prefix *string) error {
	d.Next() // directive name
	if d.NextArg() {
		*prefix = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}
