package jsonscan

import "unicode/utf8"

// Scanner parses one complete JSON value in B strictly, without allocating.
// Each method skips leading white space and reports ok false, rather than
// guessing, for anything outside its plain form (a string with escapes, a
// number where a string was due): the caller then hands the value to
// encoding/json, which gives the same result as before or the error.
// Everything a Scanner accepts is valid JSON.
type Scanner struct {
	B []byte
	I int
}

// Reset makes s scan b from its start.
func (s *Scanner) Reset(b []byte) { s.B, s.I = b, 0 }

func (s *Scanner) ws() {
	for s.I < len(s.B) && isSpace(s.B[s.I]) {
		s.I++
	}
}

// Byte consumes c.
func (s *Scanner) Byte(c byte) bool {
	s.ws()
	if s.I < len(s.B) && s.B[s.I] == c {
		s.I++
		return true
	}
	return false
}

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.ws()
	return s.I == len(s.B)
}

// Null consumes the literal null.
func (s *Scanner) Null() bool {
	s.ws()
	if len(s.B)-s.I >= 4 && string(s.B[s.I:s.I+4]) == "null" {
		s.I += 4
		return true
	}
	return false
}

// String consumes a plain string (no escapes, no control characters, valid
// UTF-8) and returns its contents, which encoding/json would decode to the
// same bytes.
func (s *Scanner) String() ([]byte, bool) {
	raw, ok := s.QuotedString()
	if !ok {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// QuotedString is String with the quotes kept.
func (s *Scanner) QuotedString() ([]byte, bool) {
	s.ws()
	if s.I >= len(s.B) || s.B[s.I] != '"' {
		return nil, false
	}
	start := s.I
	ascii := true
	for i := start + 1; i < len(s.B); i++ {
		c := s.B[i]
		if plain[c] {
			continue
		}
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(s.B[start+1:i]) {
				return nil, false
			}
			s.I = i + 1
			return s.B[start : i+1], true
		case c == '\\', c < 0x20:
			return nil, false
		default:
			ascii = false
		}
	}
	return nil, false
}

// plain marks the ASCII bytes a plain string holds as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Number consumes a JSON number and returns its bytes.
func (s *Scanner) Number() ([]byte, bool) {
	s.ws()
	start := s.I
	i, ok := NumberEnd(s.B, start)
	if !ok {
		return nil, false
	}
	s.I = i
	return s.B[start:i], true
}

// NumberEnd returns the end of the JSON number (RFC 8259 grammar) that
// starts at b[i], and whether there is one.
func NumberEnd(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == d {
			return i, false
		}
	}
	return i, true
}

// Int consumes a JSON integer of at most 18 digits (no fraction, no
// exponent), which encoding/json stores in an int field unchanged.
func (s *Scanner) Int() (int64, bool) {
	at := s.I
	b, ok := s.Number()
	if !ok {
		return 0, false
	}
	n, ok := ParseDigits(b)
	if !ok {
		s.I = at
	}
	return n, ok
}

// Scalar consumes a plain string or a number and returns its raw bytes, the
// bytes encoding/json hands to an UnmarshalJSON method.
func (s *Scanner) Scalar() ([]byte, bool) {
	s.ws()
	if s.I < len(s.B) && s.B[s.I] == '"' {
		return s.QuotedString()
	}
	return s.Number()
}

// Object consumes an object, calling member with each key (a plain string)
// after its colon; member consumes the value and reports ok.
func (s *Scanner) Object(member func(key []byte) bool) bool {
	if !s.Byte('{') {
		return false
	}
	if s.Byte('}') {
		return true
	}
	for {
		k, ok := s.String()
		if !ok || !s.Byte(':') || !member(k) {
			return false
		}
		if s.Byte(',') {
			continue
		}
		return s.Byte('}')
	}
}

// ParseDigits parses an optionally negative run of 1 to 18 decimal digits
// without allocating; ok is false for anything else.
func ParseDigits(b []byte) (n int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Skip consumes any one JSON value, checking it strictly as encoding/json
// does (escapes included); it does not check UTF-8, which encoding/json
// replaces rather than refuses.
func (s *Scanner) Skip() bool {
	return s.skip(0)
}

// maxDepth bounds the nesting Skip follows (encoding/json allows 10,000).
const maxDepth = 10000

func (s *Scanner) skip(depth int) bool {
	s.ws()
	if s.I >= len(s.B) || depth > maxDepth {
		return false
	}
	switch c := s.B[s.I]; c {
	case '{':
		s.I++
		if s.Byte('}') {
			return true
		}
		for {
			s.ws()
			if !s.skipString() || !s.Byte(':') || !s.skip(depth+1) {
				return false
			}
			if s.Byte(',') {
				continue
			}
			return s.Byte('}')
		}
	case '[':
		s.I++
		if s.Byte(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.Byte(',') {
				continue
			}
			return s.Byte(']')
		}
	case '"':
		return s.skipString()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.Number()
	return ok
}

func (s *Scanner) literal(lit string) bool {
	if len(s.B)-s.I >= len(lit) && string(s.B[s.I:s.I+len(lit)]) == lit {
		s.I += len(lit)
		return true
	}
	return false
}

// skipString consumes a string at s.I, escapes checked.
func (s *Scanner) skipString() bool {
	if s.I >= len(s.B) || s.B[s.I] != '"' {
		return false
	}
	for i := s.I + 1; i < len(s.B); i++ {
		switch c := s.B[i]; {
		case c == '"':
			s.I = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(s.B) {
				return false
			}
			switch s.B[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.B) {
					return false
				}
				for _, h := range s.B[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}
