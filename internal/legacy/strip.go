package legacy

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
)

// stripOAuth removes the OAuth 1.0a protocol parameters from a verified
// request: the Authorization header, oauth_* query parameters and oauth_*
// form-body parameters. Other parameters keep their exact encoding, and a
// body without oauth_* parameters is left as it is.
func stripOAuth(r *http.Request, maxBody int64) error {
	r.Header.Del("Authorization")
	if r.URL.RawQuery != "" {
		if q, changed := dropOAuth(r.URL.RawQuery); changed {
			r.URL.RawQuery = q
			r.RequestURI = "" // stale now; the proxy rebuilds it from URL
		}
	}
	if !oauth1.IsForm(r) {
		return nil
	}
	// verify's Collect left the body readable from memory; reading it
	// again costs a copy, never the network.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return err
	}
	_ = r.Body.Close()
	stripped, changed := dropOAuth(string(body))
	if changed {
		body = []byte(stripped)
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return nil
}

// dropOAuth removes the pairs named oauth_* from a form-encoded string and
// says whether there were any.
func dropOAuth(s string) (string, bool) {
	var kept []string
	changed := false
	for _, pair := range strings.Split(s, "&") {
		name, _, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil && strings.HasPrefix(n, "oauth_") {
			changed = true
			continue
		}
		kept = append(kept, pair)
	}
	if !changed {
		return s, false
	}
	return strings.Join(kept, "&"), true
}
