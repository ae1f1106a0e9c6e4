package inject

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// An upstream that echoes the Bearer token in a 2xx or 3xx response — a
// header, a Location, the body — never gets it to the app.
func TestScrubsTokenFromEveryResponse(t *testing.T) {
	f := newFixture(t)
	rec := f.connect(t, "alice", "AAAAAA")
	token := rec.AccessToken
	for _, status := range []int{200, 201, 302, 404} {
		f.tr.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			body := `{"echo":"` + tok + `","again":"` + tok + `"}`
			return &http.Response{StatusCode: status, Request: r, ContentLength: int64(len(body)),
				Header: http.Header{
					"X-Debug-Authorization": {"Bearer " + tok},
					"Location":              {"https://app.example/cb?access_token=" + url.QueryEscape(tok) + "#t=" + tok},
					"Content-Length":        {strconv.Itoa(len(body))},
				},
				Body: io.NopCloser(iotest.OneByteReader(strings.NewReader(body)))}, nil
		})
		a := roundTrip(t, f.tr, newReq(t, "GET", f.sim.APIBase()+"/1/user/-/profile.json", "alice", nil))
		if a.status != status {
			t.Fatalf("status %d, want %d", a.status, status)
		}
		for k, vs := range a.header {
			if strings.Contains(strings.Join(vs, ","), token) {
				t.Errorf("%d: header %s carries the token", status, k)
			}
		}
		if bytes.Contains(a.body, []byte(token)) || !bytes.Contains(a.body, []byte("[REDACTED]")) {
			t.Errorf("%d: body %s", status, a.body)
		}
	}
}

func TestScrubStreamsAndKeepsLength(t *testing.T) {
	const token = "tok/en+with=reserved"
	m := mask(len(token))
	for name, body := range map[string]string{
		"none":         strings.Repeat("x", 10000),
		"start":        token + "abc",
		"end":          "abc" + token,
		"only":         token,
		"adjacent":     token + token,
		"across reads": strings.Repeat("y", scrubChunk-5) + token + strings.Repeat("z", scrubChunk),
		"prefix only":  "abc" + token[:len(token)-1],
		"many":         strings.Repeat("a"+token, 500),
	} {
		want := strings.ReplaceAll(body, token, m)
		for rname, r := range map[string]func(io.Reader) io.Reader{
			"whole":    func(r io.Reader) io.Reader { return r },
			"one byte": iotest.OneByteReader,
			"half":     iotest.HalfReader,
		} {
			resp := &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: int64(len(body)),
				Body: io.NopCloser(r(strings.NewReader(body)))}
			got, err := io.ReadAll(scrub(resp, token).Body)
			if err != nil || string(got) != want {
				t.Fatalf("%s, %s reads: %v\n got %q\nwant %q", name, rname, err, got, want)
			}
		}
	}
	if err := iotest.TestReader(&scrubber{r: io.NopCloser(strings.NewReader("a" + token + "b")), token: token, trailer: &http.Response{}},
		[]byte("a"+m+"b")); err != nil {
		t.Fatal(err)
	}
}

func TestScrubHeaderForms(t *testing.T) {
	const token = "a/b+c=d"
	h := http.Header{
		"Location": {"https://x/?t=" + url.QueryEscape(token), "https://x/" + url.PathEscape(token) + "/y"},
		"X-Plain":  {"Bearer " + token},
		"X-Other":  {"nothing here"},
	}
	scrubHeader(h, token)
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, token) || strings.Contains(v, url.QueryEscape(token)) || strings.Contains(v, url.PathEscape(token)) {
				t.Errorf("%s: %q", k, v)
			}
		}
	}
	if h.Get("X-Other") != "nothing here" {
		t.Fatal("an innocent header changed")
	}
}

// What scrub leaves alone: compressed bodies (headers still scrubbed),
// 101 Switching Protocols, empty bodies.
func TestScrubLeavesWhatItCannotRead(t *testing.T) {
	const token = "the-token-value"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(token))
	_ = zw.Close()
	body := io.NopCloser(bytes.NewReader(gz.Bytes()))
	resp := scrub(&http.Response{StatusCode: 200, Header: http.Header{"Content-Encoding": {"gzip"}, "X-T": {token}}, ContentLength: -1, Body: body}, token)
	if resp.Body != body || strings.Contains(resp.Header.Get("X-T"), token) {
		t.Fatal("gzip: body wrapped or header not scrubbed")
	}
	upgraded := io.NopCloser(strings.NewReader(token))
	if resp := scrub(&http.Response{StatusCode: 101, Header: http.Header{}, Body: upgraded}, token); resp.Body != upgraded {
		t.Fatal("a 101's connection was wrapped")
	}
	if resp := scrub(&http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody}, token); resp.Body != http.NoBody {
		t.Fatal("an empty body was wrapped")
	}
}

func TestScrubsTrailers(t *testing.T) {
	const token = "the-token-value"
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1, Trailer: http.Header{"X-T": {token}},
		Body: io.NopCloser(strings.NewReader("body"))}
	if _, err := io.ReadAll(scrub(resp, token).Body); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(resp.Trailer.Get("X-T"), token) {
		t.Fatal("trailer keeps the token")
	}
}
