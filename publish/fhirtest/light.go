package fhirtest

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// The light read of a bundle entry's resource. A server that keeps no
// bodies (WithoutBodies) needs of a resource posted in a Bundle only its
// head (resourceType and id), its identifiers and meta.tag codings, and the
// knowledge that no reference in it needs rewriting: it never writes the
// stored form. The light read takes these in one pass over the bytes,
// checking the JSON as strictly as the tree does, without building a tree.
// It gives up (ok false) wherever the tree could tell otherwise — a
// resource that is not an object, a key with an escape, a member that
// matters given twice, a head member that is not a plain string, a head key
// matched only case-insensitively, a string it reads that is not plain,
// and any reference the tree would rewrite (urn:uuid or conditional) — and
// the tree reads the resource as before. FuzzLightRead and
// FuzzLightServer check it against the tree.

// lightRead is the state of one light read, and its scratch space.
type lightRead struct {
	b []byte
	i int
	// typ and id are the head's plain strings.
	typ, id []byte
	// lastTyp is the resourceType of the request's last light read: the
	// entries of a bundle mostly share one.
	lastTyp string
	// idents and tags are the "system|value" and "system|code" pairs of
	// identifier and meta.tag, as spans of b.
	idents, tags []pairSpan
	// open is skip's stack of the containers open: true for an object.
	open []bool
}

// pairSpan is a system and a value (or code) in the scanned bytes; a
// system that is not a string is empty.
type pairSpan struct{ sys, val []byte }

// What an object is to the light read: its members that matter.
type lightKind uint8

const (
	lightAny      lightKind = iota // only references matter
	lightRoot                      // the resource
	lightMeta                      // meta: tag
	lightIdent                     // an element of identifier: system, value
	lightTag                       // an element of meta.tag: system, code
	lightIdentArr                  // the array identifier
	lightTagArr                    // the array meta.tag
)

var urnUUID = []byte("urn:uuid:")

// readLight reads the resource at s.I. On success s is after the resource,
// and the head and the identifiers (identifiers, then tagKey + meta.tag
// codings, nil for none, as tree.identifiers gives them) are returned; on
// failure s is where it was.
func readLight(s *jsonscan.Scanner, l *lightRead) (h head, identifiers []string, ok bool) {
	*l = lightRead{b: s.B, i: s.I, idents: l.idents[:0], tags: l.tags[:0], lastTyp: l.lastTyp, open: l.open[:0]}
	l.space()
	if l.i >= len(l.b) || l.b[l.i] != '{' || !l.object(0, lightRoot) {
		return head{}, nil, false
	}
	s.I = l.i
	if string(l.typ) != l.lastTyp {
		l.lastTyp = string(l.typ)
	}
	return head{ResourceType: l.lastTyp, ID: string(l.id)}, l.identifiers(), true
}

// release drops what l points to in a request's bytes.
func (l *lightRead) release() {
	clear(l.idents[:cap(l.idents)])
	clear(l.tags[:cap(l.tags)])
	*l = lightRead{idents: l.idents[:0], tags: l.tags[:0], open: l.open[:0]}
}

// identifiers joins the pairs read into one string and cuts it into the
// identifiers: one allocation for the strings of a resource.
func (l *lightRead) identifiers() []string {
	n := len(l.idents) + len(l.tags)
	if n == 0 {
		return nil
	}
	size := 0
	for _, p := range l.idents {
		size += len(p.sys) + 1 + len(p.val)
	}
	for _, p := range l.tags {
		size += len(tagKey) + len(p.sys) + 1 + len(p.val)
	}
	var b strings.Builder
	b.Grow(size)
	for _, p := range l.idents {
		b.Write(p.sys)
		b.WriteByte('|')
		b.Write(p.val)
	}
	for _, p := range l.tags {
		b.WriteString(tagKey)
		b.Write(p.sys)
		b.WriteByte('|')
		b.Write(p.val)
	}
	all := b.String()
	out := make([]string, 0, n)
	at := 0
	for _, p := range l.idents {
		end := at + len(p.sys) + 1 + len(p.val)
		out = append(out, all[at:end])
		at = end
	}
	for _, p := range l.tags {
		end := at + len(tagKey) + len(p.sys) + 1 + len(p.val)
		out = append(out, all[at:end])
		at = end
	}
	return out
}

func (l *lightRead) space() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// byte consumes c after white space.
func (l *lightRead) byte(c byte) bool {
	l.space()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

// peek returns the next byte after white space, 0 at the end.
func (l *lightRead) peek() byte {
	l.space()
	if l.i >= len(l.b) {
		return 0
	}
	return l.b[l.i]
}

// str consumes the string at l.i and returns its contents; plain says that
// they are what encoding/json decodes (no escape; valid UTF-8 when utf8 is
// set). ok is false for a string that is not valid JSON.
func (l *lightRead) str(checkUTF8 bool) (v []byte, plain, ok bool) {
	b, start := l.b, l.i
	if start >= len(b) || b[start] != '"' {
		return nil, false, false
	}
	j := stringEnd(b, start+1)
	if j >= len(b) {
		return nil, false, false
	}
	if b[j] == '"' {
		l.i = j + 1
		v = b[start+1 : j]
		return v, !checkUTF8 || utf8.Valid(v), true
	}
	if b[j] < 0x20 {
		return nil, false, false
	}
	// An escape: the strict check.
	var s jsonscan.Scanner
	s.Reset(b)
	s.I = start
	if !s.Skip() {
		return nil, false, false
	}
	l.i = s.I
	return nil, false, true
}

// stringEnd returns the index of the first '"', '\\' or control character
// in b from i on, len(b) when there is none. It looks at eight bytes at a
// time: strings are most of a resource's bytes.
func stringEnd(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// (v - ones) &^ v & highs marks the bytes of v that are zero, and
		// (x - ones*0x20) &^ x & highs those of x below 0x20; a borrow may
		// mark a byte above a marked one too, but the lowest mark is
		// exact.
		if m := ((q-ones)&^q | (bs-ones)&^bs | (x-ones*0x20)&^x) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// key consumes a member's key and its colon; the key must have no escape.
func (l *lightRead) key() ([]byte, bool) {
	l.space()
	k, plain, ok := l.str(false)
	if !ok || !plain {
		return nil, false
	}
	return k, l.byte(':')
}

// value consumes any value at depth, refusing a reference the tree would
// rewrite below it.
func (l *lightRead) value(depth int, kind lightKind) bool {
	if kind == lightAny {
		return l.skip(depth)
	}
	if depth > maxTreeDepth {
		return false
	}
	switch l.peek() {
	case '{':
		return l.object(depth, kind)
	case '[':
		return l.array(depth, kind)
	case '"':
		_, _, ok := l.str(false)
		return ok
	}
	var s jsonscan.Scanner // a number or literal, checked
	s.Reset(l.b)
	s.I = l.i
	if !s.Skip() {
		return false
	}
	l.i = s.I
	return true
}

// array consumes the array at l.i, at depth; kind tells what its elements
// are.
func (l *lightRead) array(depth int, kind lightKind) bool {
	if depth > maxTreeDepth {
		return false
	}
	elem := lightAny
	switch kind {
	case lightIdentArr:
		elem = lightIdent
	case lightTagArr:
		elem = lightTag
	}
	l.i++
	if l.byte(']') {
		return true
	}
	for {
		if !l.value(depth+1, elem) {
			return false
		}
		if l.byte(',') {
			continue
		}
		return l.byte(']')
	}
}

// object consumes the object at l.i, at depth; kind tells which of its
// members matter.
func (l *lightRead) object(depth int, kind lightKind) bool {
	if depth > maxTreeDepth {
		return false
	}
	l.i++
	if l.byte('}') {
		return true
	}
	var seen uint8 // the members that may come once
	var p pairSpan
	for {
		k, ok := l.key()
		if !ok {
			return false
		}
		ok, bit := l.member(k, depth+1, kind, &p)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if l.byte(',') {
			continue
		}
		if !l.byte('}') {
			return false
		}
		break
	}
	if len(p.val) > 0 {
		switch kind {
		case lightIdent:
			l.idents = append(l.idents, p)
		case lightTag:
			l.tags = append(l.tags, p)
		}
	}
	return true
}

// The bits of the members that may come once, by object kind.
const (
	bitType, bitID, bitIdentifier, bitMeta uint8 = 1, 2, 4, 8 // the resource
	bitTag                                 uint8 = 1          // meta
	bitSystem, bitValue                    uint8 = 1, 2       // a pair
)

// member consumes the value of member key at depth of an object of kind;
// bit is set for a member that may come only once. p takes a pair's system
// and value.
func (l *lightRead) member(key []byte, depth int, kind lightKind, p *pairSpan) (ok bool, bit uint8) {
	switch kind {
	case lightRoot:
		switch string(key) {
		case "resourceType":
			v, ok := l.plain(depth)
			l.typ = v
			return ok, bitType
		case "id":
			v, ok := l.plain(depth)
			l.id = v
			return ok, bitID
		case "identifier":
			return l.value(depth, lightIdentArr), bitIdentifier
		case "meta":
			return l.value(depth, lightMeta), bitMeta
		}
		if strings.EqualFold(string(key), "resourceType") || strings.EqualFold(string(key), "id") {
			return false, 0 // encoding/json would take it: the tree asks it
		}
	case lightMeta:
		if string(key) == "tag" {
			return l.value(depth, lightTagArr), bitTag
		}
	case lightIdent, lightTag:
		var dst *[]byte
		switch {
		case string(key) == "system":
			dst, bit = &p.sys, bitSystem
		case kind == lightIdent && string(key) == "value", kind == lightTag && string(key) == "code":
			dst, bit = &p.val, bitValue
		}
		if dst != nil {
			if l.peek() != '"' {
				return l.value(depth, lightAny), bit // not a string: no system, or no pair
			}
			v, ok := l.plain(depth)
			*dst = v
			return ok, bit
		}
	}
	if string(key) == "reference" && l.peek() == '"' {
		// stage.rewrite rewrites a reference that starts with "urn:uuid:"
		// or holds a '?': the tree must read the resource.
		v, ok := l.plain(depth)
		return ok && !bytes.HasPrefix(v, urnUUID) && bytes.IndexByte(v, '?') < 0, 0
	}
	return l.value(depth, lightAny), 0
}

// plain consumes a plain string at depth (no escape, valid UTF-8: its
// bytes are what encoding/json decodes); anything else is not ok.
func (l *lightRead) plain(depth int) ([]byte, bool) {
	if depth > maxTreeDepth || l.peek() != '"' {
		return nil, false
	}
	v, plain, ok := l.str(true)
	return v, ok && plain
}

// skip consumes any value at depth, in which only references matter (see
// member), without recursion: most of a resource's bytes are read here.
func (l *lightRead) skip(depth int) bool {
	const (
		wantValue = iota
		afterValue
		wantKey
	)
	b, i, open := l.b, l.i, l.open[:0]
	defer func() { l.open = open[:0] }()
	state := wantValue
	for {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return false
		}
		switch state {
		case wantValue:
			if depth+len(open) > maxTreeDepth {
				return false
			}
			var ok bool
			switch c := b[i]; c {
			case '{', '[':
				i++
				for i < len(b) && isSpace(b[i]) {
					i++
				}
				if i < len(b) && b[i] == c+2 { // '}' or ']': empty
					i++
					state = afterValue
					continue
				}
				open = append(open, c == '{')
				if c == '{' {
					state = wantKey
				}
				continue
			case '"':
				i, ok = skipString(b, i)
			case 't':
				i, ok = literal(b, i, "true")
			case 'f':
				i, ok = literal(b, i, "false")
			case 'n':
				i, ok = literal(b, i, "null")
			default:
				i, ok = number(b, i)
			}
			if !ok {
				return false
			}
			state = afterValue
		case afterValue:
			if len(open) == 0 {
				l.i = i
				return true
			}
			object := open[len(open)-1]
			switch c := b[i]; {
			case c == ',':
				i++
				state = wantValue
				if object {
					state = wantKey
				}
			case object && c == '}', !object && c == ']':
				i++
				open = open[:len(open)-1]
			default:
				return false
			}
		case wantKey:
			if b[i] != '"' {
				return false
			}
			end := stringEnd(b, i+1)
			if end >= len(b) || b[end] != '"' {
				return false // unterminated, or an escape: the tree reads it
			}
			reference := string(b[i+1:end]) == "reference"
			for i = end + 1; i < len(b) && isSpace(b[i]); i++ {
			}
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i++
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			state = wantValue
			if reference && i < len(b) && b[i] == '"' {
				if depth+len(open) > maxTreeDepth {
					return false
				}
				l.i = i
				v, ok := l.plain(0)
				if !ok || bytes.HasPrefix(v, urnUUID) || bytes.IndexByte(v, '?') >= 0 {
					return false // stage.rewrite would rewrite it: the tree reads it
				}
				i = l.i
				state = afterValue
			}
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipString returns the end of the string at b[i] (its opening quote),
// escapes checked as encoding/json checks them.
func skipString(b []byte, i int) (int, bool) {
	for i++; ; i++ {
		i = stringEnd(b, i)
		if i >= len(b) || b[i] < 0x20 {
			return i, false
		}
		if b[i] == '"' {
			return i + 1, true
		}
		i++ // an escape
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if i+4 >= len(b) {
				return i, false
			}
			for _, h := range b[i+1 : i+5] {
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
					return i, false
				}
			}
			i += 4
		default:
			return i, false
		}
	}
}

// literal returns the end of lit at b[i].
func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

// number returns the end of the JSON number at b[i].
func number(b []byte, i int) (int, bool) {
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
