package publish

import (
	"encoding/json"
	"errors"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// resourceHead is what prepare reads of a resource's JSON before it is sent.
type resourceHead struct {
	resourceType, id []byte // raw JSON strings, quotes included
	status           []byte // raw JSON value, nil when absent
}

var errNotObject = errors.New("resource JSON is not a JSON object")

// headScan says how much of a resource's JSON readHead checks, after what
// the publisher's validator already checked.
type headScan int

const (
	// scanStrict checks that the body is one JSON object, as json.Valid
	// does: nothing else vouches for it (a validator of the caller's).
	scanStrict headScan = iota
	// scanTrusted reads the top level only: the validator parsed the whole
	// body strictly before. As encoding/json does, the last of duplicate
	// members wins.
	scanTrusted
	// scanFirst is scanTrusted for a body whose validator also refused
	// repeated member names: it stops once it has the members it wants.
	scanFirst
)

// readHead returns a resource's top-level resourceType, id and (when
// wantStatus, or always with scanStrict and scanTrusted) status without
// decoding the rest: the resource is checked in full by the validator, and
// decoding every resource into a struct only to read two strings cost more
// than building it. It refuses anything that is not one JSON object; with
// scanTrusted and scanFirst it relies on the validator for that and only
// never reads past the body.
func readHead(body []byte, how headScan, wantStatus bool) (resourceHead, error) {
	if how == scanStrict {
		return readHeadStrict(body)
	}
	var h resourceHead
	b := skipSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return h, errNotObject
	}
	b = skipSpace(b[1:])
	for len(b) > 0 && b[0] != '}' {
		if b[0] == ',' {
			b = skipSpace(b[1:])
		}
		n := valueLen(b) // the key
		if n == 0 {
			return h, errNotObject
		}
		key := b[:n]
		b = skipSpace(b[n:])
		if len(b) == 0 || b[0] != ':' {
			return h, errNotObject
		}
		b = skipSpace(b[1:])
		n = valueLen(b)
		if n == 0 {
			return h, errNotObject
		}
		h.set(key, b[:n])
		if how == scanFirst && h.resourceType != nil && h.id != nil && (h.status != nil || !wantStatus) {
			return h, nil
		}
		b = skipSpace(b[n:])
	}
	return h, nil
}

// readHeadStrict is readHead in one strict pass (jsonscan, which accepts
// exactly what json.Valid accepts), for a body no validator parsed.
func readHeadStrict(body []byte) (resourceHead, error) {
	var h resourceHead
	var s jsonscan.Scanner
	s.Reset(body)
	if !s.Byte('{') {
		return h, errNotObject
	}
	// value consumes one JSON value and returns its bytes.
	value := func() ([]byte, bool) {
		at := s.I
		if !s.Skip() {
			return nil, false
		}
		return skipSpace(s.B[at:s.I]), true
	}
	if !s.Byte('}') {
		for {
			key, ok := value()
			if !ok || key[0] != '"' || !s.Byte(':') {
				return h, errNotObject
			}
			v, ok := value()
			if !ok {
				return h, errNotObject
			}
			h.set(key, v)
			if s.Byte(',') {
				continue
			}
			if s.Byte('}') {
				break
			}
			return h, errNotObject
		}
	}
	if !s.End() {
		return h, errNotObject
	}
	return h, nil
}

// set keeps the raw value v of the member key when it is one readHead
// returns.
func (h *resourceHead) set(key, v []byte) {
	switch {
	case equalString(key, "resourceType"):
		h.resourceType = v
	case equalString(key, "id"):
		h.id = v
	case equalString(key, "status"):
		h.status = v
	}
}

// equalString reports whether the raw JSON value v is the string s.
func equalString(v []byte, s string) bool {
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	if plainASCII(v) {
		return string(v[1:len(v)-1]) == s
	}
	var u string
	return json.Unmarshal(v, &u) == nil && u == s
}

// plainASCII reports whether b has neither escapes nor non-ASCII bytes, so
// its string is its bytes (encoding/json replaces invalid UTF-8).
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// valueLen returns the length of the JSON value at the start of b, which a
// validator parsed. It never reads past b, whatever b holds, and returns 0
// only when b is empty or starts with a delimiter.
func valueLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '"':
		for i := 1; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				i += valueLen(b[i:]) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	i := 0
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}
