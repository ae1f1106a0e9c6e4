package simkit

import (
	"net/url"
	"strings"
)

// AbsoluteHTTPURL reports whether s is an absolute http(s) URL without a
// fragment or user info, as a redirect URI must be.
func AbsoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Fragment == "" && !strings.Contains(s, "#") && u.User == nil
}

// AppendQuery adds params, in order and escaped by escape, to the query of
// base, keeping an existing query string as it is and dropping a fragment.
func AppendQuery(base string, params [][2]string, escape func(string) string) string {
	if i := strings.IndexByte(base, '#'); i >= 0 {
		base = base[:i]
	}
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	for _, p := range params {
		b.WriteString(sep)
		b.WriteString(escape(p[0]))
		b.WriteByte('=')
		b.WriteString(escape(p[1]))
		sep = "&"
	}
	return b.String()
}
