package connect

import (
	"fmt"
	"net/url"
	"strings"
)

// ReturnTo checks return_to values against an allow-list of prefixes, so the
// callback can never be used as an open redirect.
//
// An entry is either a path ("/app/") — allowing same-origin paths under it —
// or an absolute URL ("https://app.example.com/done") — allowing that exact
// scheme and host, and paths under its path. Matching is on whole path
// segments: "/app" allows "/app" and "/app/x", never "/appx".
type ReturnTo struct{ allowed []*url.URL }

// NewReturnTo parses the allow-list.
func NewReturnTo(prefixes []string) (*ReturnTo, error) {
	rt := &ReturnTo{}
	for _, p := range prefixes {
		u, err := url.Parse(p)
		if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Host == "") != (u.Scheme == "") {
			return nil, fmt.Errorf("return_to prefix %q: use a path such as /app/ or an absolute URL such as https://app.example.com/", p)
		}
		if u.Scheme != "" && u.Scheme != "https" && u.Scheme != "http" {
			return nil, fmt.Errorf("return_to prefix %q: only http and https URLs", p)
		}
		if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("return_to prefix %q: a path must start with /", p)
		}
		rt.allowed = append(rt.allowed, u)
	}
	return rt, nil
}

// Allowed reports whether raw may be redirected to.
func (rt *ReturnTo) Allowed(raw string) bool {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\\x00\r\n\t") {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	relative := u.Scheme == "" && u.Host == ""
	if relative && (!strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//")) {
		return false // "//evil.example" is protocol-relative; "x" is ambiguous
	}
	if !relative && (u.Scheme == "" || u.Host == "") {
		return false
	}
	clean := u.EscapedPath()
	if hasDotSegment(clean) || hasDotSegment(u.Path) {
		return false // "/app/../admin", also percent-encoded, escapes the prefix
	}
	for _, a := range rt.allowed {
		if relative != (a.Host == "") {
			continue
		}
		if !relative && (!strings.EqualFold(a.Scheme, u.Scheme) || !strings.EqualFold(a.Host, u.Host)) {
			continue
		}
		if underPath(clean, a.EscapedPath()) {
			return true
		}
	}
	return false
}

// underPath reports whether p is prefix itself or lies below it.
func underPath(p, prefix string) bool {
	if prefix == "" || prefix == "/" {
		return true
	}
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || strings.HasSuffix(prefix, "/") || p[len(prefix)] == '/'
}

func hasDotSegment(p string) bool {
	p = "/" + p + "/"
	return strings.Contains(p, "/../") || strings.Contains(p, "/./")
}
