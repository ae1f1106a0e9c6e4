package oauth1

import (
	"net/url"
	"sort"
	"strings"
)

// AuthorizationHeader signs a request as a client does and returns the
// "Authorization: OAuth …" value (§3.5.1). protocol holds the oauth_*
// parameters without oauth_signature (oauth_signature_method among them);
// form holds the form-body parameters, if any; u's query is signed too. The
// gateway verifies with Collect and Verify; this is for its tests and the
// benchmark's load generator.
func AuthorizationHeader(method string, u *url.URL, form, protocol url.Values, consumerSecret, tokenSecret string) (string, error) {
	signed := u.Query()
	for _, src := range []url.Values{form, protocol} {
		for k, v := range src {
			signed[k] = append(signed[k], v...)
		}
	}
	sig, err := Sign(Method(protocol.Get("oauth_signature_method")), BaseString(method, u, signed), consumerSecret, tokenSecret)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(protocol))
	for k := range protocol {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("OAuth ")
	for _, k := range names {
		b.WriteString(Encode(k) + `="` + Encode(protocol.Get(k)) + `", `)
	}
	b.WriteString(`oauth_signature="` + Encode(sig) + `"`)
	return b.String(), nil
}
