package fhirtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// The server reads each incoming resource once into a tree over the
// request's bytes and writes the stored form from it. The stored form is
// what the server used to write by decoding the resource into a map
// (numbers as json.Number) and marshalling the map back: members sorted by
// key, no white space, strings escaped as encoding/json escapes them. That
// round trip was three quarters of the fake's CPU in the sync benchmarks;
// the tree writes the same bytes (fuzzed against the round trip in
// tree_test.go) at a fraction of the cost.

type jkind uint8

const (
	jObject jkind = iota + 1
	jArray
	jString
	jOther // number, true, false, null: written as they stand
)

// jnode is one JSON value of a tree.
type jnode struct {
	kind jkind
	// key is the member's key when the value is an object member, decoded;
	// keyRaw is the key as json.Marshal writes it, quotes included.
	key, keyRaw []byte
	// raw is, for scalars, the bytes json.Marshal writes for the value
	// decoded into an interface: strings quoted and escaped as it escapes
	// them, numbers as written.
	raw []byte
	// The node's members (sorted by key) or elements are
	// tree.kids[first:first+n].
	first, n int32
}

// tree holds the resources of one request. Its bytes alias the request's
// (or, for the rare value that needs it, re-encoded copies): nothing a
// record keeps points into it.
type tree struct {
	nodes []jnode
	kids  []int32
	stack []int32
	// dup is set when an object had a key twice.
	dup bool
	// buf is scratch space for what the request writes.
	buf []byte
	// light is the scratch space of the light reads of the request's
	// resources (light.go).
	light lightRead
	// sc is the rest of a bundle request's scratch space.
	sc scratch
}

// scratch is what a bundle request reuses of the one before it: its
// entries, their targets and answers, and the transaction's stage.
type scratch struct {
	entries  []entryIn
	requests []requestIn
	targets  []target
	reserved []record
	records  []record
	resp     []responseEntryOut
	fullURLs map[string]*target
	strs     strs
	stage    stage
}

// maxScratch bounds the entries whose space a scratch keeps.
const maxScratch = 4096

// release drops what sc points to, and what is too large to keep.
func (sc *scratch) release() {
	sc.entries = clearOrDrop(sc.entries)
	sc.requests = clearOrDrop(sc.requests)
	sc.targets = clearOrDrop(sc.targets)
	sc.reserved = clearOrDrop(sc.reserved)
	sc.records = clearOrDrop(sc.records)
	sc.resp = clearOrDrop(sc.resp)
	if len(sc.fullURLs) > maxScratch {
		sc.fullURLs = nil
	}
	clear(sc.fullURLs)
	for typ, m := range sc.stage.writes {
		if len(m) > maxScratch {
			delete(sc.stage.writes, typ)
		}
		clear(m)
	}
	sc.stage.s, sc.stage.recs = nil, nil
	sc.strs.reset()
	if cap(sc.strs.b) > 64*maxScratch || cap(sc.strs.pending) > 4*maxScratch {
		sc.strs = strs{}
	}
}

// clearOrDrop returns s emptied, or nil when it is too large to keep.
func clearOrDrop[T any](s []T) []T {
	if cap(s) > maxScratch {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}

// sized returns s with length n, zeroed, reusing its space when it can;
// never nil.
func sized[T any](s []T, n int) []T {
	if cap(s) < n || s == nil {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

var trees = sync.Pool{New: func() any { return new(tree) }}

func getTree() *tree { return trees.Get().(*tree) }

// putTree recycles t, dropping what it points to.
func putTree(t *tree) {
	clear(t.nodes)
	t.light.release()
	t.sc.release()
	t.reset()
	if cap(t.buf) > 16<<20 {
		t.buf = nil
	}
	trees.Put(t)
}

// maxTreeDepth is the nesting encoding/json accepts.
const maxTreeDepth = 10000

func (t *tree) reset() {
	t.nodes, t.kids, t.stack, t.dup = t.nodes[:0], t.kids[:0], t.stack[:0], false
}

// parse reads the JSON value b into the tree and returns its node; ok is
// false when b is not one valid JSON value. A value with a duplicate key
// is read as encoding/json decodes it into a map: the last one wins.
func (t *tree) parse(b []byte) (int32, bool) {
	var s jsonscan.Scanner
	s.Reset(b)
	n, ok := t.value(&s)
	return n, ok && s.End()
}

// value reads the value at s.I (see parse) and leaves s after it.
func (t *tree) value(s *jsonscan.Scanner) (int32, bool) {
	start := s.I
	nodes, kids := len(t.nodes), len(t.kids)
	n, ok := t.read(s, 0)
	if ok && !t.dup {
		return n, true
	}
	// Undo, then let encoding/json settle duplicate keys (and confirm what
	// is not valid).
	t.nodes, t.kids, t.stack, t.dup = t.nodes[:nodes], t.kids[:kids], t.stack[:0], false
	s.I = start
	if !s.Skip() {
		return 0, false
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(s.B[start:s.I]))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return 0, false
	}
	norm, err := json.Marshal(v)
	if err != nil {
		return 0, false
	}
	var ns jsonscan.Scanner
	ns.Reset(norm)
	n, ok = t.read(&ns, 0)
	if !ok || t.dup {
		return 0, false
	}
	return n, true
}

func skipSpace(s *jsonscan.Scanner) {
	for s.I < len(s.B) {
		switch s.B[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// read reads one value at s.I into a new node.
func (t *tree) read(s *jsonscan.Scanner, depth int) (int32, bool) {
	skipSpace(s)
	if s.I >= len(s.B) || depth > maxTreeDepth {
		return 0, false
	}
	idx := int32(len(t.nodes))
	t.nodes = append(t.nodes, jnode{})
	switch c := s.B[s.I]; c {
	case '{':
		s.I++
		mark := len(t.stack)
		if !s.Byte('}') {
			for {
				skipSpace(s)
				key, keyRaw, ok := t.str(s)
				if !ok || !s.Byte(':') {
					return 0, false
				}
				kid, ok := t.read(s, depth+1)
				if !ok {
					return 0, false
				}
				t.nodes[kid].key, t.nodes[kid].keyRaw = key, keyRaw
				t.stack = append(t.stack, kid)
				if s.Byte(',') {
					continue
				}
				if !s.Byte('}') {
					return 0, false
				}
				break
			}
		}
		t.sortMembers(t.stack[mark:])
		t.close(idx, jObject, mark)
	case '[':
		s.I++
		mark := len(t.stack)
		if !s.Byte(']') {
			for {
				kid, ok := t.read(s, depth+1)
				if !ok {
					return 0, false
				}
				t.stack = append(t.stack, kid)
				if s.Byte(',') {
					continue
				}
				if !s.Byte(']') {
					return 0, false
				}
				break
			}
		}
		t.close(idx, jArray, mark)
	case '"':
		_, raw, ok := t.str(s)
		if !ok {
			return 0, false
		}
		t.nodes[idx] = jnode{kind: jString, raw: raw}
	default:
		start := s.I
		if !s.Skip() { // true, false, null or a number, checked
			return 0, false
		}
		t.nodes[idx] = jnode{kind: jOther, raw: s.B[start:s.I]}
	}
	return idx, true
}

// sortMembers sorts an object's members by key (insertion sort: objects
// are small) and notes a key given twice.
func (t *tree) sortMembers(m []int32) {
	for i := 1; i < len(m); i++ {
		k := m[i]
		key := t.nodes[k].key
		j := i
		for ; j > 0; j-- {
			c := bytes.Compare(t.nodes[m[j-1]].key, key)
			if c == 0 {
				t.dup = true
			}
			if c <= 0 {
				break
			}
			m[j] = m[j-1]
		}
		m[j] = k
	}
}

// close moves the kids stacked since mark to the node.
func (t *tree) close(idx int32, kind jkind, mark int) {
	t.nodes[idx] = jnode{kind: kind, first: int32(len(t.kids)), n: int32(len(t.stack) - mark)}
	t.kids = append(t.kids, t.stack[mark:]...)
	t.stack = t.stack[:mark]
}

// str reads the string at s.I: its decoded bytes and the bytes json.Marshal
// writes for them.
func (t *tree) str(s *jsonscan.Scanner) (decoded, raw []byte, ok bool) {
	start := s.I
	if q, ok := asIsString(s); ok {
		return q[1 : len(q)-1], q, true
	}
	s.I = start
	if !s.Skip() || s.B[start] != '"' {
		return nil, nil, false
	}
	var v string
	if json.Unmarshal(s.B[start:s.I], &v) != nil {
		return nil, nil, false
	}
	return []byte(v), appendJSONString(nil, v), true
}

// asIsString consumes the string at s.I when json.Marshal writes its
// decoded value as it stands: no escapes, no control characters, valid
// UTF-8, and none of '<', '>', '&', U+2028 and U+2029 (E2 80 A8, E2 80
// A9), which json.Marshal escapes. It returns the string with its quotes;
// ok false leaves s where it was.
func asIsString(s *jsonscan.Scanner) ([]byte, bool) {
	b, start := s.B, s.I
	if start >= len(b) || b[start] != '"' {
		return nil, false
	}
	ascii := true
	for i := start + 1; i < len(b); i++ {
		switch class[b[i]] {
		case asIs:
			continue
		case quote:
			q := b[start : i+1]
			if !ascii && (!utf8.Valid(q) || bytes.Contains(q, lineSep) || bytes.Contains(q, paraSep)) {
				return nil, false
			}
			s.I = i + 1
			return q, true
		case nonASCII:
			ascii = false
		default: // escapes, control characters, '<', '>', '&'
			return nil, false
		}
	}
	return nil, false
}

// The classes of string bytes for asIsString.
const (
	asIs = iota
	quote
	nonASCII
	other
)

var (
	class = func() (c [256]uint8) {
		for i := range c {
			switch {
			case i == '"':
				c[i] = quote
			case i >= utf8.RuneSelf:
				c[i] = nonASCII
			case i < 0x20 || i == '\\' || i == '<' || i == '>' || i == '&':
				c[i] = other
			}
		}
		return c
	}()
	lineSep, paraSep = []byte("\u2028"), []byte("\u2029")
)

// appendJSONString appends s as json.Marshal writes a string.
func appendJSONString(b []byte, s string) []byte {
	at := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch c := s[i]; {
		case c < 0x20 || c >= utf8.RuneSelf:
			q, _ := json.Marshal(s) // a string always marshals
			return append(b[:at], q...)
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '<':
			esc = `\u003c`
		case c == '>':
			esc = `\u003e`
		case c == '&':
			esc = `\u0026`
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (t *tree) kidsOf(n int32) []int32 {
	nd := &t.nodes[n]
	return t.kids[nd.first : nd.first+nd.n]
}

// member returns the member key of object n, or -1.
func (t *tree) member(n int32, key string) int32 {
	if n < 0 || t.nodes[n].kind != jObject {
		return -1
	}
	for _, k := range t.kidsOf(n) {
		if string(t.nodes[k].key) == key {
			return k
		}
	}
	return -1
}

// text returns the string value of node n; ok is false when n is not a
// string.
func (t *tree) text(n int32) (string, bool) {
	if n < 0 || t.nodes[n].kind != jString {
		return "", false
	}
	raw := t.nodes[n].raw
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var v string
	_ = json.Unmarshal(raw, &v) // raw is json.Marshal's
	return v, true
}

// appendText appends the string value of node n; ok is false when n is
// not a string.
func (t *tree) appendText(b []byte, n int32) ([]byte, bool) {
	if n < 0 || t.nodes[n].kind != jString {
		return b, false
	}
	raw := t.nodes[n].raw
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(b, raw[1:len(raw)-1]...), true
	}
	v, _ := t.text(n)
	return append(b, v...), true
}

// pairs returns "system|value" of the elements of the array at n whose
// member value (code, value) is a non-empty string; a system that is not a
// string counts as "".
func (t *tree) pairs(n int32, value string, scratch []byte) []string {
	if n < 0 || t.nodes[n].kind != jArray {
		return nil
	}
	var out []string
	for _, e := range t.kidsOf(n) {
		b, _ := t.appendText(scratch[:0], t.member(e, "system"))
		b = append(b, '|')
		at := len(b)
		if b, _ = t.appendText(b, t.member(e, value)); len(b) > at {
			out = append(out, string(b))
		}
		scratch = b
	}
	return out
}

// write appends node n as json.Marshal writes its decoded value.
func (t *tree) write(b []byte, n int32) []byte {
	nd := &t.nodes[n]
	switch nd.kind {
	case jObject:
		b = append(b, '{')
		for i, k := range t.kidsOf(n) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, t.nodes[k].keyRaw...)
			b = append(b, ':')
			b = t.write(b, k)
		}
		return append(b, '}')
	case jArray:
		b = append(b, '[')
		for i, k := range t.kidsOf(n) {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.write(b, k)
		}
		return append(b, ']')
	}
	return append(b, nd.raw...)
}

// merge appends object n (-1: an empty one) with the members keys
// replacing or joining its own, in key order; keys are sorted and plain.
// value appends the value of keys[i], given the member it replaces (-1:
// none).
func (t *tree) merge(b []byte, n int32, keys []string, value func(b []byte, i int, old int32) []byte) []byte {
	var kids []int32
	if n >= 0 {
		kids = t.kidsOf(n)
	}
	b = append(b, '{')
	for i, j, count := 0, 0, 0; i < len(kids) || j < len(keys); count++ {
		if count > 0 {
			b = append(b, ',')
		}
		if j < len(keys) && (i == len(kids) || keys[j] <= string(t.nodes[kids[i]].key)) {
			old := int32(-1)
			if i < len(kids) && keys[j] == string(t.nodes[kids[i]].key) {
				old = kids[i]
				i++
			}
			b = append(b, '"')
			b = append(b, keys[j]...)
			b = append(b, '"', ':')
			b = value(b, j, old)
			j++
			continue
		}
		b = append(b, t.nodes[kids[i]].keyRaw...)
		b = append(b, ':')
		b = t.write(b, kids[i])
		i++
	}
	return append(b, '}')
}

// head returns the resourceType and id of the resource at n as
// encoding/json decodes them into a struct; ok is false when the tree
// cannot tell (n is not an object, one of the two is not a string, or a key
// matches only case-insensitively), and the caller asks encoding/json.
func (t *tree) head(n int32) (resourceType, id string, ok bool) {
	if n < 0 || t.nodes[n].kind != jObject {
		return "", "", false
	}
	for _, k := range t.kidsOf(n) {
		key := string(t.nodes[k].key)
		var dst *string
		switch {
		case key == "resourceType":
			dst = &resourceType
		case key == "id":
			dst = &id
		case strings.EqualFold(key, "resourceType") || strings.EqualFold(key, "id"):
			return "", "", false
		default:
			continue
		}
		v, isStr := t.text(k)
		if !isStr {
			return "", "", false
		}
		*dst = v
	}
	return resourceType, id, true
}

// identifiers returns the "system|value" identifiers of the resource at n
// and, for conditional writes by _tag (a Provenance has no identifier), its
// meta.tag codings as tagKey + "system|code", in a key space of their own.
func (t *tree) identifiers(n int32) []string {
	out := t.pairs(t.member(n, "identifier"), "value", t.buf[len(t.buf):])
	if meta := t.member(n, "meta"); meta >= 0 {
		for _, tag := range t.pairs(t.member(meta, "tag"), "code", t.buf[len(t.buf):]) {
			out = append(out, tagKey+tag)
		}
	}
	return out
}

// index records the subject, codes and effective time of the resource at
// n for search.
func (r *searchIndex) index(t *tree, n int32) {
	r.subject, _ = t.text(t.member(t.member(n, "subject"), "reference"))
	r.codes = t.pairs(t.member(t.member(n, "code"), "coding"), "code", t.buf[len(t.buf):])
	if v, ok := t.text(t.member(n, "effectiveDateTime")); ok {
		r.setDate(v, "", true)
		return
	}
	if p := t.member(n, "effectivePeriod"); p >= 0 && t.nodes[p].kind == jObject {
		start, _ := t.text(t.member(p, "start"))
		end, _ := t.text(t.member(p, "end"))
		r.setDate(start, end, false)
	}
}
