package oauth1

import (
	"fmt"
	"strings"
)

// MaxAuthorizationSize bounds the Authorization header value ParseAuthorization
// accepts.
const MaxAuthorizationSize = 8 << 10

// ParseAuthorization parses an "Authorization: OAuth …" header value
// (RFC 5849 §3.5.1) into its parameters.
//
// The scheme is matched case-insensitively. Parameters are name="value"
// pairs separated by commas (optional whitespace around them, empty list
// elements ignored). Names and values are percent-decoded strictly ('+' stays
// a plus); the realm value is returned as written (quoted-pair escapes
// removed) under the key "realm", and must be dropped before signing (Collect
// does). Any parameter occurring twice is rejected with ErrDuplicateParam.
// A header with the scheme only yields an empty map. A value whose scheme is
// not OAuth yields ErrNotOAuth; other syntax errors yield ErrMalformed.
func ParseAuthorization(header string) (map[string]string, error) {
	if len(header) > MaxAuthorizationSize {
		return nil, fmt.Errorf("%w: authorization header is %d bytes, limit %d", ErrTooLarge, len(header), MaxAuthorizationSize)
	}
	s := strings.TrimLeft(header, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		i = len(s)
	}
	if !strings.EqualFold(s[:i], "OAuth") {
		return nil, ErrNotOAuth
	}
	p := &authParser{s: s, i: i}
	out := make(map[string]string)
	for {
		p.skipSeparators()
		if p.i >= len(p.s) {
			return out, nil
		}
		name, value, err := p.param()
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(name, "realm") {
			name = "realm"
		} else {
			var ok bool
			if name, ok = decode(name); !ok || name == "" {
				return nil, p.errorf("invalid percent-encoding in parameter name %q", name)
			}
			if value, ok = decode(value); !ok {
				return nil, p.errorf("invalid percent-encoding in value of %q", name)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: %q occurs twice in the authorization header", ErrDuplicateParam, name)
		}
		out[name] = value
		// After a parameter: optional whitespace, then ',' or the end.
		p.skipWS()
		if p.i < len(p.s) && p.s[p.i] != ',' {
			return nil, p.errorf("expected ',' after the value of %q", name)
		}
	}
}

type authParser struct {
	s string
	i int
}

func (p *authParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: authorization header: %s (at byte %d)", ErrMalformed, fmt.Sprintf(format, args...), p.i)
}

func (p *authParser) skipWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *authParser) skipSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// param reads name="value" at the current position and returns the raw
// (still percent-encoded) name and the unquoted value.
func (p *authParser) param() (string, string, error) {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return "", "", p.errorf("expected a parameter name, found %q", p.s[p.i])
	}
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return "", "", p.errorf("expected '=' after parameter name %q", name)
	}
	p.i++
	p.skipWS()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", "", p.errorf("value of %q must be a quoted string", name)
	}
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", "", p.errorf("unterminated quoted value of %q", name)
		}
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return name, b.String(), nil
		case c == '\\':
			if p.i >= len(p.s) {
				return "", "", p.errorf("unterminated quoted value of %q", name)
			}
			c = p.s[p.i]
			p.i++
			if isCTL(c) {
				return "", "", p.errorf("control character in value of %q", name)
			}
			b.WriteByte(c)
		case isCTL(c):
			return "", "", p.errorf("control character in value of %q", name)
		default:
			b.WriteByte(c)
		}
	}
}

// isTchar reports whether c is an RFC 7230 token character.
func isTchar(c byte) bool {
	if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isCTL reports control characters other than horizontal tab.
func isCTL(c byte) bool { return c < 0x20 && c != '\t' || c == 0x7f }
