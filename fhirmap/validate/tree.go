package validate

import (
	"errors"
	"iter"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The fast path reads a document once into a tree of nodes held in one slice:
// no map per object, no interface per value, and every key and string value
// without escapes is a substring of the input. The Go checks, the shape of each
// resource and the value checks all work on this tree.

// JSON kinds of a node; the letters are also what a shape records.
const (
	kindObject = 'o'
	kindArray  = 'a'
	kindString = 's'
	kindNumber = 'n'
	kindBool   = 'b'
	kindNull   = 'z'
)

// maxDepth bounds the nesting the parser accepts (FHIR resources are a few
// levels deep; encoding/json stops at 10,000).
const maxDepth = 512

type node struct {
	// key is the member name in the parent object ("" in arrays and at
	// the root); index is the position in the parent array (-1 otherwise).
	key   string
	index int32
	// val is the string value, the number literal, "true" or "false".
	val string
	// parent, first child and next sibling, -1 when there is none.
	parent, first, next int32
	// n counts the children of an object or array.
	n int32
	// rt is the string member "resourceType" of an object, -1 when it has
	// none: every object is asked whether it is a resource.
	rt int32
	// keys has the keyBit of each member name of an object: a member
	// whose bit is clear is absent, so most lookups of an absent member and
	// most new names skip the scan of the members.
	keys uint64
	kind byte
}

// keyBit hashes a member name to one of 64 bits (length, first and last
// byte: cheap, and enough to tell FHIR's member names of one object apart).
func keyBit(k string) uint64 {
	h := uint(len(k))
	if len(k) > 0 {
		h = h*31 + uint(k[0])*7 + uint(k[len(k)-1])
	}
	return 1 << (h & 63)
}

// tree is a parsed document; nodes[0] is the root.
type tree struct {
	src   string
	nodes []node
	// reads, when not nil, records per node what the Go checks read of
	// its value (readValue, readDay): the template path (template.go)
	// needs to know which values a verdict depends on. Every read of a
	// value by a Go check goes through v, str, resourceType or dayPrecise;
	// the generic checks of every string (checker.walk: empty, urn:uuid)
	// read node.val directly and are repeated by the template path itself.
	reads []byte
}

// What a Go check read of a value (tree.reads).
const (
	readValue  = 1 << iota // the value itself
	readDay                // only whether it is precise to the day (vs-1)
	readDayYes             // with readDay: it was
)

// v returns the value of node i for a Go check.
func (t *tree) v(i int32) string {
	if t.reads != nil {
		t.reads[i] |= readValue
	}
	return t.nodes[i].val
}

// dayPrecise reports whether object i has the string member key and
// whether that is precise to the day at least (eight characters: "YYYY-MM-DD"
// is ten, "YYYY-MM" seven; vs-1 of the vital-signs profile).
func (t *tree) dayPrecise(i int32, key string) (has, day bool) {
	c := t.child(i, key)
	if c < 0 || t.nodes[c].kind != kindString {
		return false, false
	}
	day = len(t.nodes[c].val) >= 8
	if t.reads != nil {
		t.reads[c] |= readDay
		if day {
			t.reads[c] |= readDayYes
		}
	}
	return true, day
}

var errSyntax = errors.New("invalid JSON syntax")

type parser struct {
	t   *tree
	s   string
	pos int
}

// parse reads data as one JSON value. It is stricter than encoding/json in
// two ways FHIR requires: invalid UTF-8 and repeated member names are
// errors.
//
// The tree's strings share data's memory (no copy of the document): they
// must not outlive the validation call. What goes into an error is built by
// concatenation or cloned (the root's resourceType).
func (t *tree) parse(data []byte) error {
	t.src = unsafe.String(unsafe.SliceData(data), len(data))
	t.nodes = t.nodes[:0]
	p := parser{t: t, s: t.src}
	p.space()
	if _, err := p.value(-1, "", -1, 0); err != nil {
		return err
	}
	p.space()
	if p.pos != len(p.s) {
		return errSyntax
	}
	return nil
}

func (p *parser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) add(kind byte, parent int32, key string, index int32, val string) int32 {
	nodes := p.t.nodes
	i := len(nodes)
	if i == cap(nodes) {
		nodes = append(nodes, node{})
	}
	nodes = nodes[:i+1]
	n := &nodes[i]
	n.key, n.index, n.val = key, index, val
	n.parent, n.first, n.next, n.n, n.rt = parent, -1, -1, 0, -1
	n.keys, n.kind = 0, kind
	p.t.nodes = nodes
	if kind == kindString && index < 0 && parent >= 0 && key == "resourceType" {
		nodes[parent].rt = int32(i)
	}
	return int32(i)
}

func (p *parser) value(parent int32, key string, index int32, depth int) (int32, error) {
	if p.pos >= len(p.s) {
		return -1, errSyntax
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object(parent, key, index, depth)
	case c == '[':
		return p.array(parent, key, index, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return -1, err
		}
		return p.add(kindString, parent, key, index, s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		if err := p.number(); err != nil {
			return -1, err
		}
		return p.add(kindNumber, parent, key, index, p.s[start:p.pos]), nil
	case strings.HasPrefix(p.s[p.pos:], "true"):
		p.pos += 4
		return p.add(kindBool, parent, key, index, "true"), nil
	case strings.HasPrefix(p.s[p.pos:], "false"):
		p.pos += 5
		return p.add(kindBool, parent, key, index, "false"), nil
	case strings.HasPrefix(p.s[p.pos:], "null"):
		p.pos += 4
		return p.add(kindNull, parent, key, index, ""), nil
	}
	return -1, errSyntax
}

func (p *parser) object(parent int32, key string, index int32, depth int) (int32, error) {
	if depth >= maxDepth {
		return -1, errSyntax
	}
	i := p.add(kindObject, parent, key, index, "")
	p.pos++ // {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return i, nil
	}
	last := int32(-1)
	for {
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return -1, errSyntax
		}
		k, err := p.str()
		if err != nil {
			return -1, err
		}
		if bit := keyBit(k); p.t.nodes[i].keys&bit == 0 {
			p.t.nodes[i].keys |= bit
		} else {
			for c := p.t.nodes[i].first; c >= 0; c = p.t.nodes[c].next {
				if p.t.nodes[c].key == k {
					return -1, errDuplicate
				}
			}
		}
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return -1, errSyntax
		}
		p.pos++
		p.space()
		c, err := p.value(i, k, -1, depth+1)
		if err != nil {
			return -1, err
		}
		p.link(i, last, c)
		last = c
		p.space()
		if p.pos >= len(p.s) {
			return -1, errSyntax
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
			p.space()
		case '}':
			p.pos++
			return i, nil
		default:
			return -1, errSyntax
		}
	}
}

var errDuplicate = errors.New("repeated member name")

func (p *parser) array(parent int32, key string, index int32, depth int) (int32, error) {
	if depth >= maxDepth {
		return -1, errSyntax
	}
	i := p.add(kindArray, parent, key, index, "")
	p.pos++ // [
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return i, nil
	}
	last := int32(-1)
	for n := int32(0); ; n++ {
		c, err := p.value(i, "", n, depth+1)
		if err != nil {
			return -1, err
		}
		p.link(i, last, c)
		last = c
		p.space()
		if p.pos >= len(p.s) {
			return -1, errSyntax
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
			p.space()
		case ']':
			p.pos++
			return i, nil
		default:
			return -1, errSyntax
		}
	}
}

func (p *parser) link(parent, last, c int32) {
	if last < 0 {
		p.t.nodes[parent].first = c
	} else {
		p.t.nodes[last].next = c
	}
	p.t.nodes[parent].n++
}

// str reads a JSON string at p.pos (on its opening quote). Strings without
// escapes are substrings of the input.
//
// Runs of printable ASCII, the bulk of a FHIR document, advance through a
// table lookup per byte; a byte ≥ 0x80 starts a UTF-8 sequence that must
// decode, a control character is an error and a backslash hands the rest to
// escaped.
func (p *parser) str() (string, error) {
	p.pos++
	start := p.pos
	s := p.s
	i := p.pos
	for i < len(s) {
		for i < len(s) && strClass[s[i]] == strPlain {
			i++
		}
		if i >= len(s) {
			break
		}
		switch strClass[s[i]] {
		case strQuote:
			p.pos = i + 1
			return s[start:i], nil
		case strEscape:
			p.pos = i
			return p.escaped(start)
		case strControl:
			return "", errSyntax
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return "", errSyntax
		}
		i += n
	}
	return "", errSyntax
}

// Byte classes of str.
const (
	strPlain = iota
	strQuote
	strEscape
	strControl
	strHigh
)

var strClass = func() (t [256]byte) {
	for c := range t {
		switch {
		case c == '"':
			t[c] = strQuote
		case c == '\\':
			t[c] = strEscape
		case c < 0x20:
			t[c] = strControl
		case c >= utf8.RuneSelf:
			t[c] = strHigh
		}
	}
	return t
}()

// escaped finishes a string that has escapes, unescaping it into a new string.
func (p *parser) escaped(start int) (string, error) {
	var b strings.Builder
	b.WriteString(p.s[start:p.pos])
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.s) {
				return "", errSyntax
			}
			e := p.s[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", errSyntax
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if strings.HasPrefix(p.s[p.pos:], `\u`) {
						p.pos += 2
						if r2, ok = p.hex4(); !ok {
							return "", errSyntax
						}
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return "", errSyntax // a lone surrogate is no character
					}
				}
				b.WriteRune(r)
			default:
				return "", errSyntax
			}
		case c < 0x20:
			return "", errSyntax
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.pos++
		default:
			r, n := utf8.DecodeRuneInString(p.s[p.pos:])
			if r == utf8.RuneError && n == 1 {
				return "", errSyntax
			}
			b.WriteString(p.s[p.pos : p.pos+n])
			p.pos += n
		}
	}
	return "", errSyntax
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.pos:p.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}

// number reads a JSON number (RFC 8259 grammar).
func (p *parser) number() error {
	s := p.s
	if p.pos < len(s) && s[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(s) && s[p.pos] == '0':
		p.pos++
	case p.pos < len(s) && s[p.pos] >= '1' && s[p.pos] <= '9':
		for p.pos < len(s) && s[p.pos] >= '0' && s[p.pos] <= '9' {
			p.pos++
		}
	default:
		return errSyntax
	}
	if p.pos < len(s) && s[p.pos] == '.' {
		p.pos++
		if !p.digits() {
			return errSyntax
		}
	}
	if p.pos < len(s) && (s[p.pos] == 'e' || s[p.pos] == 'E') {
		p.pos++
		if p.pos < len(s) && (s[p.pos] == '+' || s[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return errSyntax
		}
	}
	return nil
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

// child returns the member key of object i, or -1 (also when i is -1).
func (t *tree) child(i int32, key string) int32 {
	if i < 0 {
		return -1
	}
	if n := &t.nodes[i]; n.kind == kindObject && n.keys&keyBit(key) == 0 {
		return -1
	}
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		if t.nodes[c].key == key {
			return c
		}
	}
	return -1
}

// object returns member key of object i when it is an object, or -1.
func (t *tree) object(i int32, key string) int32 {
	c := t.child(i, key)
	if c < 0 || t.nodes[c].kind != kindObject {
		return -1
	}
	return c
}

// resourceType returns the string member resourceType of object i and
// whether it has one.
func (t *tree) resourceType(i int32) (string, bool) {
	if rt := t.nodes[i].rt; rt >= 0 {
		return t.v(rt), true
	}
	return "", false
}

// str returns the string member key of object i and whether it is one.
func (t *tree) str(i int32, key string) (string, bool) {
	c := t.child(i, key)
	if c < 0 || t.nodes[c].kind != kindString {
		return "", false
	}
	return t.v(c), true
}

// has reports whether object i has the member key with a non-null value.
func (t *tree) has(i int32, key string) bool {
	c := t.child(i, key)
	return c >= 0 && t.nodes[c].kind != kindNull
}

// objects yields the position and node of each object element of the
// array member key of object i.
func (t *tree) objects(i int32, key string) iter.Seq2[int, int32] {
	return func(yield func(int, int32) bool) {
		a := t.child(i, key)
		if a < 0 || t.nodes[a].kind != kindArray {
			return
		}
		for c := t.nodes[a].first; c >= 0; c = t.nodes[c].next {
			if t.nodes[c].kind == kindObject && !yield(int(t.nodes[c].index), c) {
				return
			}
		}
	}
}

// path renders the location of node i FHIRPath-like, starting at the
// document root, which is named rootName: "Bundle.entry[0].resource.status".
func (t *tree) path(i int32, rootName string) string {
	if i <= 0 {
		return rootName
	}
	n := &t.nodes[i]
	if n.index >= 0 {
		return t.path(n.parent, rootName) + "[" + strconv.Itoa(int(n.index)) + "]"
	}
	return t.path(n.parent, rootName) + "." + n.key
}
