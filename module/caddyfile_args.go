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

// unmarshalBlock reads a handler's block: the flag "optional" into
// optional, and options of one value each through set.
func unmarshalBlock(d *caddyfile.Dispenser, optional *bool, set func(opt, val string) error) error {
	for d.NextBlock(0) {
		opt := d.Val()
		if opt == "optional" {
			if d.NextArg() {
				return d.ArgErr()
			}
			*optional = true
			continue
		}
		val, err := singleArg(d)
		if err != nil {
			return err
		}
		if err := set(opt, val); err != nil {
			return err
		}
	}
	return nil
}
