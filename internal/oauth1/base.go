package oauth1

import (
	"net/url"
	"sort"
	"strings"
)

// BaseString builds the RFC 5849 §3.4.1 signature base string:
//
//	UPPERCASE(method) "&" Encode(base string URI) "&" Encode(normalized parameters)
//
// u supplies the base string URI (§3.4.1.2): the scheme and host are
// lowercased, the default port (80 for http, 443 for https) is dropped, and
// the query and fragment are ignored. The host must be the one the client
// signed, i.e. the Host the server received, so a server should pass a URL
// built from r.Host, the scheme it was reached on and r.URL's path.
//
// params are the request parameters (§3.4.1.3, see Collect) and must not
// contain oauth_signature; they are normalized per §3.4.1.3.2.
func BaseString(method string, u *url.URL, params url.Values) string {
	return strings.ToUpper(method) + "&" + Encode(baseURI(u)) + "&" + Encode(normalize(params))
}

// baseURI returns the §3.4.1.2 base string URI of u.
func baseURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	// Drop an empty or default port. The last ':' is a port separator only if
	// it comes after any IPv6 literal's closing bracket.
	if i := strings.LastIndexByte(host, ':'); i >= 0 && i > strings.LastIndexByte(host, ']') {
		switch port := host[i+1:]; {
		case port == "",
			scheme == "http" && port == "80",
			scheme == "https" && port == "443":
			host = host[:i]
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// normalize implements §3.4.1.3.2: names and values are encoded, the pairs
// are sorted by encoded name and then encoded value (byte order) and joined
// as name=value with '&'.
func normalize(params url.Values) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range params {
		ek := Encode(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, Encode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}
