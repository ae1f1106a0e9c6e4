package jsonlines

import (
	"io"
	"strings"
	"testing"
)

func TestNext(t *testing.T) {
	in := "a\n" + strings.Repeat("x", 40) + "\n\nbb\n" + strings.Repeat("y", 100) + "\nlast"
	r := NewReader(strings.NewReader(in), 16)
	type got struct {
		line    string
		tooLong bool
		err     error
	}
	want := []got{{"a\n", false, nil}, {"", true, nil}, {"\n", false, nil}, {"bb\n", false, nil}, {"", true, nil}, {"last", false, io.EOF}}
	for i, w := range want {
		line, tooLong, err := r.Next()
		if string(line) != w.line || tooLong != w.tooLong || err != w.err {
			t.Fatalf("line %d: %q %v %v, want %+v", i, line, tooLong, err, w)
		}
	}
	if line, tooLong, err := r.Next(); len(line) != 0 || tooLong || err != io.EOF {
		t.Fatalf("after the end: %q %v %v", line, tooLong, err)
	}
}

func FuzzNext(f *testing.F) {
	f.Add("a\nbb\n", 4)
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 16 || max > 1<<12 {
			return
		}
		r := NewReader(strings.NewReader(in), max)
		for range len(in) + 2 {
			line, tooLong, err := r.Next()
			if len(line) > max || tooLong && len(line) > 0 {
				t.Fatalf("line of %d bytes (bound %d), tooLong %v", len(line), max, tooLong)
			}
			if err != nil {
				return
			}
		}
		t.Fatal("no end")
	})
}
