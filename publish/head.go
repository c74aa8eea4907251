package publish

import (
	"encoding/json"
	"errors"
)

// resourceHead is what prepare reads of a resource's JSON before it is sent.
type resourceHead struct {
	resourceType, id []byte // raw JSON strings, quotes included
	status           []byte // raw JSON value, nil when absent
}

var errNotObject = errors.New("resource JSON is not a JSON object")

// readHead checks that body is one valid JSON object and returns its
// top-level resourceType, id and status without decoding the rest: the
// resource is checked in full by the validator, and decoding every resource
// into a struct only to read two strings cost more than building it. As
// encoding/json does, the last of duplicate keys wins.
func readHead(body []byte) (resourceHead, error) {
	var h resourceHead
	if !json.Valid(body) {
		return h, errNotObject
	}
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
		key := b[:n]
		b = skipSpace(b[n:])
		b = skipSpace(b[1:]) // ':'
		n = valueLen(b)
		switch {
		case equalString(key, "resourceType"):
			h.resourceType = b[:n]
		case equalString(key, "id"):
			h.id = b[:n]
		case equalString(key, "status"):
			h.status = b[:n]
		}
		b = skipSpace(b[n:])
	}
	return h, nil
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

// valueLen returns the length of the JSON value at the start of b, which is
// valid JSON.
func valueLen(b []byte) int {
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
