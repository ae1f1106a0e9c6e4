package oauth1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxBody is the body limit Collect uses when maxBody <= 0.
const DefaultMaxBody = 1 << 20

// Collect gathers the request parameters of r that RFC 5849 §3.4.1.3.1 puts
// into the signature base string:
//
//   - the "Authorization: OAuth" header parameters, except realm;
//   - the query parameters;
//   - the body parameters, if the Content-Type is
//     application/x-www-form-urlencoded (other bodies are not read).
//
// Query and body are decoded as application/x-www-form-urlencoded ('+' is a
// space). params excludes oauth_signature wherever it appears, ready for
// BaseString. protocol holds every oauth_* parameter (including
// oauth_signature) from whichever place it came from, the header first; the
// same oauth_* parameter occurring twice, in one place or in two, is an
// ErrDuplicateParam. An Authorization header with a scheme other than OAuth
// is ignored; two OAuth Authorization headers are an error.
//
// A form body is read up to maxBody bytes (DefaultMaxBody if maxBody <= 0);
// a longer one is an ErrTooLarge. Whatever was read, r.Body is replaced by a
// reader that yields the original bytes unchanged (and closes the original
// body), so the request can still be proxied, also when Collect fails.
func Collect(r *http.Request, maxBody int64) (params url.Values, protocol map[string]string, err error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	params = url.Values{}
	protocol = map[string]string{}

	// Authorization header.
	var header map[string]string
	for _, v := range r.Header.Values("Authorization") {
		h, err := ParseAuthorization(v)
		if errors.Is(err, ErrNotOAuth) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if header != nil {
			return nil, nil, fmt.Errorf("%w: more than one OAuth Authorization header", ErrDuplicateParam)
		}
		header = h
	}
	for k, v := range header {
		if k == "realm" {
			continue
		}
		if strings.HasPrefix(k, "oauth_") {
			protocol[k] = v
		}
		if k != "oauth_signature" {
			params.Add(k, v)
		}
	}

	// Query.
	if r.URL != nil && r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: query: %v", ErrMalformed, err)
		}
		if err := merge(params, protocol, q, "query"); err != nil {
			return nil, nil, err
		}
	}

	// Form body.
	if IsForm(r) {
		body, err := readBody(r, maxBody)
		if err != nil {
			return nil, nil, err
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: form body: %v", ErrMalformed, err)
		}
		if err := merge(params, protocol, form, "body"); err != nil {
			return nil, nil, err
		}
	}
	return params, protocol, nil
}

// merge adds src to params (minus oauth_signature) and its oauth_* parameters
// to protocol, rejecting an oauth_* parameter seen before or repeated in src.
func merge(params url.Values, protocol map[string]string, src url.Values, where string) error {
	for k, vs := range src {
		if strings.HasPrefix(k, "oauth_") {
			if _, dup := protocol[k]; dup || len(vs) > 1 {
				return fmt.Errorf("%w: %q occurs more than once (%s)", ErrDuplicateParam, k, where)
			}
			protocol[k] = vs[0]
		}
		if k != "oauth_signature" {
			params[k] = append(params[k], vs...)
		}
	}
	return nil
}

// IsForm reports whether r has a body of type application/x-www-form-urlencoded.
func IsForm(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		// Fall back to the bare media type, so that a malformed parameter
		// cannot hide form parameters from the signature.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	return mt == "application/x-www-form-urlencoded"
}

// readBody reads up to maxBody bytes of r.Body and restores r.Body so that
// it yields the original bytes again.
func readBody(r *http.Request, maxBody int64) ([]byte, error) {
	if r.ContentLength > maxBody {
		return nil, fmt.Errorf("%w: body is %d bytes, limit %d", ErrTooLarge, r.ContentLength, maxBody)
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, maxBody+1))
	if err != nil || int64(len(buf)) > maxBody {
		// Not (known to be) fully read: replay what was read, then the rest.
		r.Body = replayBody{io.MultiReader(bytes.NewReader(buf), orig), orig}
		if err != nil {
			return nil, fmt.Errorf("oauth1: reading body: %w", err)
		}
		return nil, fmt.Errorf("%w: body exceeds %d bytes", ErrTooLarge, maxBody)
	}
	r.Body = replayBody{bytes.NewReader(buf), orig}
	if r.GetBody != nil {
		r.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(buf)), nil
		}
	}
	return buf, nil
}

// replayBody reads from Reader and closes the original body.
type replayBody struct {
	io.Reader
	io.Closer
}
