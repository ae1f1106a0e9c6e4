package inject

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbiterr"
)

// Fitbit echoes the rejected access token in its 401 messages ("Access token
// expired: <token>. …"). Error responses are therefore read (they are small)
// and the token is cut out before the app sees it; the app never held it.

// readError reads and decodes an error body of at most fitbiterr.MaxBody
// bytes. A gzip body is decoded (the rebuilt response goes out plain); any
// other content coding cannot be inspected and is refused.
func readError(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	// All the values: a second Content-Encoding header line (or a list)
	// must not slip a coding past the check.
	switch enc := strings.ToLower(strings.TrimSpace(strings.Join(resp.Header.Values("Content-Encoding"), ","))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("upstream error body: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("upstream error body in content coding %q cannot be checked for credentials", enc)
	}
	b, err := io.ReadAll(io.LimitReader(r, fitbiterr.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("upstream error body: %w", err)
	}
	if len(b) > fitbiterr.MaxBody {
		return nil, fmt.Errorf("upstream error body larger than %d bytes", fitbiterr.MaxBody)
	}
	return b, nil
}

// rebuild gives resp the already-read, decoded body b, with token cut out.
func rebuild(resp *http.Response, b []byte, token string) *http.Response {
	if token != "" && bytes.Contains(b, []byte(token)) {
		b = bytes.ReplaceAll(b, []byte(token), []byte(fitbiterr.Redacted))
	}
	if token != "" {
		// A challenge or debug header could echo the token too.
		for _, vs := range resp.Header {
			for i, v := range vs {
				if strings.Contains(v, token) {
					vs[i] = strings.ReplaceAll(v, token, fitbiterr.Redacted)
				}
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Encoding")
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	resp.Header.Del("Transfer-Encoding")
	resp.TransferEncoding = nil
	resp.Uncompressed = true
	return resp
}
