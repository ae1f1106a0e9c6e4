package inject

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
)

// Fitbit echoes the rejected access token in its 401 messages ("Access token
// expired: <token>. …"). Error responses are therefore read (they are small)
// and the token is cut out before the app sees it; the app never held it.
// Other responses are scrubbed as they stream (scrub).

// readError reads and decodes an error body of at most apierror.MaxBody
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
	b, err := io.ReadAll(io.LimitReader(r, apierror.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("upstream error body: %w", err)
	}
	if len(b) > apierror.MaxBody {
		return nil, fmt.Errorf("upstream error body larger than %d bytes", apierror.MaxBody)
	}
	// A gzip stream that its headers do not declare (or a second layer
	// inside a declared one) hides the token from the check, and a client
	// that sniffs the magic bytes would decode it: refuse it like an
	// unknown coding.
	if bytes.HasPrefix(b, gzipMagic) {
		return nil, errors.New("upstream error body is compressed in a way its headers do not declare, so it cannot be checked for credentials")
	}
	return b, nil
}

// gzipMagic opens every gzip stream (RFC 1952 §2.3.1).
var gzipMagic = []byte{0x1f, 0x8b}

// rebuild gives resp the already-read, decoded body b, with token cut out.
func rebuild(resp *http.Response, b []byte, token string) *http.Response {
	if token != "" && bytes.Contains(b, []byte(token)) {
		b = bytes.ReplaceAll(b, []byte(token), []byte(redact.Redacted))
	}
	scrubHeader(resp.Header, token)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Encoding")
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	resp.Header.Del("Transfer-Encoding")
	resp.TransferEncoding = nil
	resp.Uncompressed = true
	return resp
}

// scrub cuts token out of a response that is not an error: its headers
// (a debug header, a Location on a redirect, in plain or URL-encoded form)
// and, as it streams, a body in identity coding. The body keeps its length
// (the token becomes a mask of the same length), so Content-Length stays
// true and nothing is buffered. A compressed body is passed on unread: it
// cannot be checked without decoding it, which every response would pay
// for (README › What users and apps see).
func scrub(resp *http.Response, token string) *http.Response {
	if token == "" {
		return resp
	}
	scrubHeader(resp.Header, token)
	if resp.StatusCode < 200 || resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0 {
		return resp // 1xx (a 101's body is the upgraded connection), or no body
	}
	if enc := resp.Header["Content-Encoding"]; len(enc) > 0 && !(len(enc) == 1 && strings.EqualFold(enc[0], "identity")) {
		return resp
	}
	chunk := scrubChunk
	if resp.ContentLength > 0 && resp.ContentLength < scrubChunk {
		chunk = int(resp.ContentLength) // most API answers: a buffer their size
	}
	resp.Body = &scrubber{r: resp.Body, token: token, trailer: resp, chunk: chunk}
	return resp
}

// scrubHeader cuts token, and its URL-encoded forms, out of every header
// value. A value shorter than the token cannot hold it (nor its encodings,
// which are no shorter), so for the usual short headers it costs a length
// compare, and it allocates nothing unless a value holds the token.
func scrubHeader(h http.Header, token string) {
	if token == "" {
		return
	}
	var forms []string // computed for the first value long enough
	var formsBuf [3]string
	for _, vs := range h {
		for i, v := range vs {
			if len(v) < len(token) {
				continue
			}
			if forms == nil {
				forms = formsBuf[:1]
				formsBuf[0] = token
				// The same string, unallocated, unless token has
				// reserved bytes (a JWT has none).
				for _, f := range [...]string{url.QueryEscape(token), url.PathEscape(token)} {
					if !slices.Contains(forms, f) {
						forms = append(forms, f)
					}
				}
			}
			for _, f := range forms {
				if strings.Contains(v, f) {
					v = strings.ReplaceAll(v, f, redact.Redacted)
					vs[i] = v
				}
			}
		}
	}
}

// scrubChunk is how much of a body the scrubber reads at once.
const scrubChunk = 4 << 10

// scrubber replaces token in a body as it streams, with a mask of the same
// length. It holds back the last len(token)-1 bytes it has read, which may
// begin a token that the next read completes, until it reads more or the
// body ends. Not pooled: a body may be read after the response is done
// with, and a recycled buffer would carry one user's bytes into another's.
type scrubber struct {
	r       io.ReadCloser
	token   string
	trailer *http.Response // its Trailer is scrubbed once the body is read
	chunk   int            // how much to read at once (default scrubChunk)
	find    finder         // looks for the token
	buf     []byte         // buf[off:] is read, scrubbed and not yet returned
	off     int
	err     error
}

func (s *scrubber) Read(p []byte) (int, error) {
	for {
		held := 0
		if s.err == nil {
			held = min(len(s.buf)-s.off, len(s.token)-1)
		}
		if ready := len(s.buf) - s.off - held; ready > 0 {
			n := copy(p, s.buf[s.off:s.off+ready])
			s.off += n
			return n, nil
		}
		if s.err != nil {
			if s.err == io.EOF {
				scrubHeader(s.trailer.Trailer, s.token)
			}
			return 0, s.err
		}
		s.fill()
	}
}

// fill reads more of the body after the held bytes and scrubs the lot.
func (s *scrubber) fill() {
	if s.buf == nil { // one allocation for the token's bytes and the buffer
		if s.chunk <= 0 {
			s.chunk = scrubChunk
		}
		mem := make([]byte, len(s.token)+s.chunk+len(s.token))
		s.find = newFinder(mem[:copy(mem, s.token):len(s.token)])
		s.buf = mem[len(s.token):len(s.token)]
	}
	n := copy(s.buf[:cap(s.buf)], s.buf[s.off:]) // the held bytes to the front
	s.buf, s.off = s.buf[:n], 0
	m, err := s.r.Read(s.buf[n:cap(s.buf)])
	s.buf = s.buf[:n+m]
	s.err = err
	for from := 0; ; {
		i := s.find.index(s.buf[from:])
		if i < 0 {
			break
		}
		copy(s.buf[from+i:], mask(len(s.token)))
		from += i + len(s.token)
	}
}

func (s *scrubber) Close() error { return s.r.Close() }

// mask stands in for a token of n bytes: [REDACTED] padded with '*' to n.
func mask(n int) string {
	if n < len(redact.Redacted) {
		return strings.Repeat("*", n)
	}
	return redact.Redacted + strings.Repeat("*", n-len(redact.Redacted))
}
