package inject

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzFinder checks the finder against bytes.Index for any body and any
// token of real tokens' alphabet, including bodies made of the token's own
// pieces, where anchors match without the token.
func FuzzFinder(f *testing.F) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyMkI3TkYifQ.sig"
	f.Add([]byte(`{"a":"`+jwt+`"}`), []byte(jwt), uint8(0))
	f.Add([]byte(strings.Repeat(jwt[:20], 5)+jwt), []byte(jwt), uint8(1))
	f.Add([]byte("short"), []byte("tok"), uint8(2))
	f.Fuzz(func(t *testing.T, body, rawToken []byte, repeat uint8) {
		token := []byte(tokenAlphabet(rawToken))
		if len(token) == 0 {
			return
		}
		// Bodies dense in near-misses: pieces of the token, repeated.
		if repeat%4 == 1 && len(token) > 2 {
			body = append(bytes.Repeat(append(token[:len(token)-1:len(token)-1], body...), int(repeat)%7+1), token...)
		}
		fd := newFinder(token)
		for from := 0; from <= len(body); from++ {
			if got, want := fd.index(body[from:]), bytes.Index(body[from:], token); got != want {
				t.Fatalf("token %q in %q: %d, bytes.Index %d", token, body[from:], got, want)
			}
		}
	})
}

func TestFinderAnchorsOnARareByte(t *testing.T) {
	for token, at := range map[string]int{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyMkI3TkYifQ": 2, // the J of eyJ
		"ya29.a0AfB_byC-example-google-access-token":  7, // the A of a0A
		"0123456789abcdef0123456789abcdef":            0, // hex: a digit
		"short-token":                                 -1,
	} {
		fd := newFinder([]byte(token))
		if fd.at != at {
			t.Errorf("%s: anchored at %d, want %d (-1: no anchor)", token, fd.at, at)
		}
	}
}
