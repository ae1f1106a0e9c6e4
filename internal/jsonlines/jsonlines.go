// Package jsonlines reads JSON Lines (https://jsonlines.org/) with a bound
// on each line, going on past a line that is too long.
package jsonlines

import (
	"bufio"
	"errors"
	"io"
)

// Reader reads lines of at most Max bytes, newline included.
type Reader struct{ rd *bufio.Reader }

// NewReader reads r's lines of at most max bytes.
func NewReader(r io.Reader, max int) *Reader { return &Reader{bufio.NewReaderSize(r, max)} }

// Next returns the next line, its newline included, valid until the next
// call. A line longer than the bound is skipped to its end and reported as
// tooLong, with no bytes. err is io.EOF after the last line (which may
// come with it, when the input does not end with a newline).
func (r *Reader) Next() (line []byte, tooLong bool, err error) {
	line, err = r.rd.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = r.rd.ReadSlice('\n')
	}
	if tooLong {
		return nil, true, err
	}
	return line, false, err
}
