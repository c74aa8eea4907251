// Package jsonscan reads provider pages without reflection and without
// holding a page whole: Reader hands out the raw bytes of one JSON value at a
// time from a stream, and Scanner parses a value of a known shape strictly,
// so that decoders can take a hand-written fast path for the shapes they
// expect and give anything else to encoding/json.
//
// It is hand-written rather than a dependency: the shapes are small and
// known, encoding/json's Decoder.Token allocates per token and is several
// times slower than a scan, and a tokenizer library (jsoniter, simdjson-go,
// jsonparser) would add a maintenance and licence surface to every program
// that reads a provider, for a few hundred lines of code.
package jsonscan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrSyntax is matched (errors.Is) by every error about malformed JSON.
var ErrSyntax = errors.New("malformed JSON")

// SyntaxError is malformed JSON at Offset bytes into the stream.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonscan: malformed JSON at byte %d: %s", e.Offset, e.Msg)
}

// Is makes a *SyntaxError match ErrSyntax.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Reader reads the JSON values of a stream one at a time. The bytes a method
// returns stay valid until the next call. It holds at most one value plus
// one read ahead.
type Reader struct {
	r     io.Reader
	buf   []byte
	pos   int   // next unread byte in buf
	end   int   // end of the data in buf
	base  int64 // stream offset of buf[0]
	err   error // sticky read error, io.EOF at the end
	chunk int
}

// NewReader returns a Reader of r that reads chunk bytes at a time (at
// least 512).
func NewReader(r io.Reader, chunk int) *Reader {
	chunk = max(chunk, 512)
	return &Reader{r: r, buf: make([]byte, 0, chunk), chunk: chunk}
}

// ReadErr returns the error that stopped reading the stream, other than its
// end: a transport failure, not malformed JSON.
func (r *Reader) ReadErr() error {
	if errors.Is(r.err, io.EOF) {
		return nil
	}
	return r.err
}

// Offset returns the stream offset of the next unread byte.
func (r *Reader) Offset() int64 { return r.base + int64(r.pos) }

func (r *Reader) syntax(at int, msg string) error {
	if err := r.ReadErr(); err != nil {
		return err // the stream broke off: not the document's fault
	}
	return &SyntaxError{Offset: r.base + int64(at), Msg: msg}
}

// fill reads more of the stream, keeping buf[keep:end]; it reports whether
// bytes were added. keep moves to 0.
func (r *Reader) fill(keep int) bool {
	if r.err != nil {
		return false
	}
	if keep > 0 {
		n := copy(r.buf[:cap(r.buf)], r.buf[keep:r.end])
		r.base += int64(keep)
		r.pos -= keep
		r.end = n
	}
	if cap(r.buf)-r.end < r.chunk/2 {
		nb := make([]byte, r.end, max(2*cap(r.buf), r.end+r.chunk))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for {
		n, err := r.r.Read(r.buf[r.end:cap(r.buf)])
		r.end += n
		r.buf = r.buf[:r.end]
		if err != nil {
			r.err = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Peek skips white space and returns the next byte; ok is false at the end
// of the stream.
func (r *Reader) Peek() (c byte, ok bool) {
	for {
		for r.pos < r.end {
			if c := r.buf[r.pos]; !isSpace(c) {
				return c, true
			}
			r.pos++
		}
		if !r.fill(r.pos) {
			return 0, false
		}
	}
}

// Consume skips white space and consumes c if it comes next.
func (r *Reader) Consume(c byte) bool {
	if n, ok := r.Peek(); ok && n == c {
		r.pos++
		return true
	}
	return false
}

// Expect consumes c or returns a syntax error naming what.
func (r *Reader) Expect(c byte, what string) error {
	if !r.Consume(c) {
		return r.syntax(r.pos, "want "+what)
	}
	return nil
}

// AtEnd skips white space and reports whether the stream ended cleanly
// there.
func (r *Reader) AtEnd() bool {
	_, ok := r.Peek()
	return !ok && r.ReadErr() == nil
}

// Value returns the raw bytes of the next JSON value: an object or array
// through its closing bracket, a string through its closing quote, or a
// literal or number up to the next delimiter. It checks the nesting only;
// the caller parses (and so validates) what it gets.
func (r *Reader) Value() ([]byte, error) {
	c, ok := r.Peek()
	if !ok {
		return nil, r.syntax(r.pos, "unexpected end of input")
	}
	start := r.pos
	i := start // next byte to scan
	depth := 0
	inString, escaped := false, false
	switch c {
	case '{', '[':
	case '"':
		inString = true
		i++
	case ',', ':', '}', ']':
		return nil, r.syntax(start, "want a value")
	default:
		// A literal or number: up to a delimiter.
		for {
			for ; i < r.end; i++ {
				switch c := r.buf[i]; {
				case isSpace(c), c == ',', c == ':', c == '}', c == ']', c == '{', c == '[', c == '"':
					r.pos = i
					return r.buf[start:i], nil
				}
			}
			i -= start
			more := r.fill(start)
			start = 0
			if !more {
				r.pos = i
				return r.buf[start:i], nil
			}
		}
	}
	for {
		for ; i < r.end; i++ {
			c := r.buf[i]
			if inString {
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					if depth == 0 {
						r.pos = i + 1
						return r.buf[start : i+1], nil
					}
				default:
					// Jump to the next quote or backslash: strings are
					// most of a page's bytes.
					rest := r.buf[i+1 : r.end]
					q := bytes.IndexByte(rest, '"')
					if q < 0 {
						q = len(rest)
					}
					if e := bytes.IndexByte(rest[:q], '\\'); e >= 0 {
						q = e
					}
					i += q
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					r.pos = i + 1
					return r.buf[start : i+1], nil
				}
			}
		}
		i -= start
		more := r.fill(start)
		start = 0
		if !more {
			r.pos = r.end
			return nil, r.syntax(r.end, "unexpected end of input")
		}
	}
}
