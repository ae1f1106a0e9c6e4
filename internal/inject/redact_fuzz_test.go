package inject

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/iotest"
)

// FuzzScrubber streams a hostile body through the scrubber in reads of
// every size and checks it against the whole-body answer: the same length,
// each occurrence of the token masked, nothing else changed. Tokens are
// drawn from the alphabet real access tokens use (JWT and hex: base64url and
// '.'), which the mask's '[', ']' and '*' are not part of.
func FuzzScrubber(f *testing.F) {
	f.Add([]byte("before eyJhbGciOi.x after eyJhbGciOi.x"), []byte("eyJhbGciOi.x"), uint8(3), uint8(1))
	f.Add([]byte("aaaaaaaaa"), []byte("aaaa"), uint8(1), uint8(2))
	f.Add([]byte(""), []byte("tok"), uint8(5), uint8(0))
	f.Fuzz(func(t *testing.T, body, rawToken []byte, chunk, readSize uint8) {
		token := tokenAlphabet(rawToken)
		if len(token) == 0 || len(body) > 1<<16 {
			return
		}
		want := bytes.ReplaceAll(body, []byte(token), []byte(mask(len(token))))
		var src io.Reader = bytes.NewReader(body)
		if readSize%2 == 1 {
			src = iotest.OneByteReader(src) // the upstream trickles
		}
		s := &scrubber{r: io.NopCloser(src), token: token, trailer: &http.Response{}, chunk: int(chunk)%64 + 1}
		got := make([]byte, 0, len(body))
		p := make([]byte, int(readSize)%17+1)
		for {
			n, err := s.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("token %q, body %q:\n got %q\nwant %q", token, body, got, want)
		}
	})
}

// tokenAlphabet maps raw fuzz bytes onto the characters of real tokens.
func tokenAlphabet(raw []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	if len(raw) > 64 {
		raw = raw[:64]
	}
	b := make([]byte, len(raw))
	for i, c := range raw {
		b[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(b)
}
