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
// the tree reads the resource as before. FuzzLightRead, FuzzReadBundleLight
// and FuzzLightServer check it against the tree.

// lightRead is the state of one light read, and its scratch space.
type lightRead struct {
	b []byte
	i int
	// typ and id are the head's plain strings.
	typ, id []byte
	// lastTyp is the resourceType of the request's last light read: the
	// entries of a bundle mostly share one.
	lastTyp string
	// pairs are the "system|value" and "system|code" pairs of identifier
	// and meta.tag of the request's resources read light, as spans of b.
	pairs []pairSpan
	// open is the stack of the containers open.
	open []lightFrame
	// pair is that of the element of identifier or meta.tag open: one at
	// most, as neither holds the other.
	pair pairSpan
}

// pairSpan is a system and a value (or code) in the scanned bytes, of an
// identifier or, tag set, of a meta.tag coding; a system that is not a
// string is empty.
type pairSpan struct {
	sys, val []byte
	tag      bool
}

// lightFrame is an open object or array.
type lightFrame struct {
	kind   lightKind
	object bool
	seen   uint8 // the members that may come once, seen
}

// What a value is to the light read: which of its members matter.
type lightKind uint8

const (
	lightAny      lightKind = iota // only references matter
	lightRoot                      // the resource: resourceType, id, identifier, meta
	lightMeta                      // meta: tag
	lightIdentArr                  // identifier: its object elements are lightIdent
	lightTagArr                    // meta.tag: its object elements are lightTag
	lightIdent                     // an element of identifier: system, value
	lightTag                       // an element of meta.tag: system, code
)

// What the string value of a member is for; a destination other than
// lightNone takes only a plain string (no escape, valid UTF-8: its bytes
// are what encoding/json decodes).
type lightDest uint8

const (
	lightNone lightDest = iota
	lightType           // resourceType: a plain string
	lightID             // id: a plain string
	lightSys            // a pair's system, when a string
	lightVal            // a pair's value or code, when a string
	lightRef            // a reference, when a string: nothing to rewrite
)

var urnUUID = []byte("urn:uuid:")

// readLight reads the resource at s.I. On success s is after the resource,
// and its resourceType, its id (in s.B) and the pairs of its identifiers
// (joinPairs) are returned; on failure s is where it was. The pairs point
// into s.B and stay valid until l.release.
func readLight(s *jsonscan.Scanner, l *lightRead) (typ string, id []byte, pairs []pairSpan, ok bool) {
	from := len(l.pairs)
	*l = lightRead{b: s.B, i: s.I, pairs: l.pairs, lastTyp: l.lastTyp, open: l.open[:0]}
	if !l.read() {
		clear(l.pairs[from:])
		l.pairs = l.pairs[:from]
		return "", nil, nil, false
	}
	s.I = l.i
	if string(l.typ) != l.lastTyp {
		l.lastTyp = string(l.typ)
	}
	if len(l.pairs) > from {
		pairs = l.pairs[from:len(l.pairs):len(l.pairs)]
	}
	return l.lastTyp, l.id, pairs, true
}

// release drops what l points to in a request's bytes.
func (l *lightRead) release() {
	clear(l.pairs[:cap(l.pairs)])
	*l = lightRead{pairs: l.pairs[:0], open: l.open[:0]}
	if cap(l.pairs) > 4*maxScratch {
		l.pairs = nil
	}
}

// joinPairs returns the identifiers of pairs as tree.identifiers gives
// them: "system|value" of the identifiers, then tagKey + "system|code" of
// the meta.tag codings; nil for none. The strings share one allocation.
func joinPairs(pairs []pairSpan) []string {
	if len(pairs) == 0 {
		return nil
	}
	size := 0
	for _, p := range pairs {
		size += len(p.sys) + 1 + len(p.val)
		if p.tag {
			size += len(tagKey)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for _, tags := range []bool{false, true} {
		for _, p := range pairs {
			if p.tag != tags {
				continue
			}
			if tags {
				b.WriteString(tagKey)
			}
			b.Write(p.sys)
			b.WriteByte('|')
			b.Write(p.val)
		}
	}
	all := b.String()
	out := make([]string, 0, len(pairs))
	at := 0
	for _, tags := range []bool{false, true} {
		for _, p := range pairs {
			if p.tag != tags {
				continue
			}
			end := at + len(p.sys) + 1 + len(p.val)
			if tags {
				end += len(tagKey)
			}
			out = append(out, all[at:end])
			at = end
		}
	}
	return out
}

// samePairs reports whether joinPairs(pairs) would equal ids, without
// building it.
func samePairs(pairs []pairSpan, ids []string) bool {
	if len(pairs) != len(ids) {
		return false
	}
	k := 0
	for _, tags := range []bool{false, true} {
		for _, p := range pairs {
			if p.tag != tags {
				continue
			}
			id := ids[k]
			k++
			if tags {
				if !strings.HasPrefix(id, tagKey) {
					return false
				}
				id = id[len(tagKey):]
			}
			n := len(p.sys)
			if len(id) != n+1+len(p.val) || id[:n] != string(p.sys) || id[n] != '|' || id[n+1:] != string(p.val) {
				return false
			}
		}
	}
	return true
}

// read reads the object at l.i, in one loop over its bytes.
func (l *lightRead) read() bool {
	const (
		wantValue = iota
		afterValue
		wantKey
	)
	b, i, open := l.b, l.i, l.open[:0]
	defer func() { l.open = open[:0] }() // keep the space grown
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '{' {
		return false
	}
	state, kind, dest := wantValue, lightRoot, lightNone // what the value wanted is
	for {
		if state == afterValue && len(open) == 0 {
			l.i = i
			return true
		}
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) {
			return false
		}
		switch state {
		case wantValue:
			if len(open) > maxTreeDepth {
				return false
			}
			c := b[i]
			if c != '"' && (dest == lightType || dest == lightID) {
				return false // the tree asks encoding/json
			}
			ok := true
			switch c {
			case '{', '[':
				k := lightAny
				switch {
				case c == '{' && (kind == lightRoot || kind == lightMeta || kind == lightIdent || kind == lightTag),
					c == '[' && (kind == lightIdentArr || kind == lightTagArr):
					k = kind
				}
				i++
				for i < len(b) && isSpace(b[i]) {
					i++
				}
				if i < len(b) && b[i] == c+2 { // '}' or ']': empty
					i++
					state = afterValue
					continue
				}
				open = append(open, lightFrame{kind: k, object: c == '{'})
				if k == lightIdent || k == lightTag {
					l.pair = pairSpan{tag: k == lightTag}
				}
				state = wantKey
				if c == '[' {
					state, kind, dest = wantValue, elemKind(k), lightNone
				}
				continue
			case '"':
				if dest == lightNone {
					i, ok = skipString(b, i)
					break
				}
				end := stringEnd(b, i+1)
				if end >= len(b) || b[end] != '"' {
					return false // an escape, or no string: the tree reads it
				}
				v := b[i+1 : end]
				if !utf8.Valid(v) {
					return false
				}
				i = end + 1
				switch dest {
				case lightType:
					l.typ = v
				case lightID:
					l.id = v
				case lightSys:
					l.pair.sys = v
				case lightVal:
					l.pair.val = v
				case lightRef:
					if bytes.HasPrefix(v, urnUUID) || bytes.IndexByte(v, '?') >= 0 {
						return false // stage.rewrite would rewrite it: the tree reads it
					}
				}
			case 't':
				i, ok = literal(b, i, "true")
			case 'f':
				i, ok = literal(b, i, "false")
			case 'n':
				i, ok = literal(b, i, "null")
			default:
				i, ok = jsonscan.NumberEnd(b, i)
			}
			if !ok {
				return false
			}
			state = afterValue
		case afterValue:
			top := &open[len(open)-1]
			switch c := b[i]; {
			case c == ',':
				i++
				state = wantKey
				if !top.object {
					state, kind, dest = wantValue, elemKind(top.kind), lightNone
				}
			case top.object && c == '}', !top.object && c == ']':
				i++
				if (top.kind == lightIdent || top.kind == lightTag) && len(l.pair.val) > 0 {
					l.pairs = append(l.pairs, l.pair)
				}
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
				return false // an escape, or no string: the tree reads it
			}
			key := b[i+1 : end]
			for i = end + 1; i < len(b) && isSpace(b[i]); i++ {
			}
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i++
			top := &open[len(open)-1]
			var bit uint8 // a member that may come once
			kind, dest = lightAny, lightNone
			switch top.kind {
			case lightRoot:
				switch string(key) {
				case "resourceType":
					bit, dest = 1, lightType
				case "id":
					bit, dest = 2, lightID
				case "identifier":
					bit, kind = 4, lightIdentArr
				case "meta":
					bit, kind = 8, lightMeta
				default:
					// Only r, R, i and I fold to r or i: other keys cannot
					// match either case-insensitively.
					if len(key) > 0 && (key[0]|0x20 == 'r' || key[0]|0x20 == 'i') &&
						(strings.EqualFold(string(key), "resourceType") || strings.EqualFold(string(key), "id")) {
						return false // encoding/json would take it: the tree asks it
					}
				}
			case lightMeta:
				if string(key) == "tag" {
					bit, kind = 1, lightTagArr
				}
			case lightIdent, lightTag:
				switch {
				case string(key) == "system":
					bit, dest = 1, lightSys
				case top.kind == lightIdent && string(key) == "value", top.kind == lightTag && string(key) == "code":
					bit, dest = 2, lightVal
				}
			}
			if top.seen&bit != 0 {
				return false // given twice: the tree lets encoding/json settle it
			}
			top.seen |= bit
			if dest == lightNone && string(key) == "reference" {
				dest = lightRef
			}
			state = wantValue
		}
	}
}

// elemKind is the kind of the elements of an array of kind k.
func elemKind(k lightKind) lightKind {
	switch k {
	case lightIdentArr:
		return lightIdent
	case lightTagArr:
		return lightTag
	}
	return lightAny
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
