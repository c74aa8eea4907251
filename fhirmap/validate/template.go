package validate

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openhealthexchange/ohx"
)

// The template path: a resource that differs from one validated before only
// in some of its values is accepted without building a tree, by one scan of
// its bytes against the earlier one.
//
// A skeleton is an accepted resource with its values cut out: the bytes
// between its values (keys, punctuation, whitespace) and the JSON kind of
// each value. A document that has the same bytes between its values, and
// values of the same kinds (each a complete JSON token: a string that the
// parser accepts, a number of the JSON grammar, true or false, null), parses
// into the same tree with other values: the same member names at the same
// places, so the same shape and the same plan (fast.go), and the same
// structure for the Go checks. What can differ is only what depends on
// values:
//
//   - the schema's value rules (pattern, enum, const, number literals): the
//     plan's rule of each value that differs from the variant's is applied;
//   - the generic checks of every string (not empty; a urn:uuid is a
//     lower-case RFC 4122 UUID): applied to each value that differs;
//   - the checks of checks.go and profiles.go, which read some values (a
//     status, a profile URL, a coding, whether effectiveDateTime is precise
//     to the day). A variant records which values its own run read
//     (tree.reads); the document takes its verdict only when every value
//     that was read is the same (or, for readDay, the same to the day).
//     Then each check made the same decisions on both documents, and none
//     failed on the variant.
//
// Anything else (a value that differs and fails a rule, a changed string
// with escapes, a value read by a check that differs) is not decided here:
// the document takes the tree path, which gives the verdict and the error.
// So the template path never produces an error of its own and can only
// accept what the tree path accepts; FuzzTemplateAgreesWithTreePath and
// TestTemplateValueMutations compare the two.
//
// Only single resources are templated (no nested resource, not a Bundle:
// bundles resolve references across entries), and only documents whose
// first member is resourceType, which the templates are grouped by.

// Template bounds: skeletons per resource type and FHIR version, variants
// (value sets the checks read) per skeleton, the longest document kept, and
// the bytes kept in all (documents and values); past that the templates are
// all dropped and built again as documents come. A variant is rejected by
// the first value read that differs (a subject, a code), so trying 64 costs
// less than the tree path; 64 covers the patients and codes of the syncs a
// daemon runs at once.
const (
	maxSkeletons     = 8
	maxVariants      = 64
	maxTemplateLen   = 16 << 10
	maxTemplateBytes = 8 << 20
)

// skeleton is an accepted document without its values.
type skeleton struct {
	segs  []string // the bytes before each value and after the last: len(kinds)+1
	kinds []byte
	rules []*valueRule // the plan's rule of each value (nil: none)
	// variants are the accepted value sets, newest first; replaced, never
	// changed in place (readers hold no lock while they use one).
	variants atomic.Pointer[[]*variant]
}

// variant is one accepted document's values and what its checks read.
type variant struct {
	vals  []string // each value's JSON token (strings with their quotes)
	reads []byte   // tree.reads of each value
	read  []int32  // the values with reads: those that differ from the variant before it first
}

type templateKey struct {
	version ohx.FHIRVersion
	rt      string
}

var templates = struct {
	sync.RWMutex
	m     map[templateKey][]*skeleton
	bytes int
}{m: map[templateKey][]*skeleton{}}

// templateHits counts the documents the template path accepted.
var templateHits atomic.Int64

// rtPrefix is how a templated document starts.
const rtPrefix = `{"resourceType":"`

// templateRT returns the resource type a document starting with rtPrefix
// names, or "".
func templateRT(s string) string {
	if !strings.HasPrefix(s, rtPrefix) {
		return ""
	}
	rest := s[len(rtPrefix):]
	end := strings.IndexByte(rest, '"')
	if end <= 0 || end > 64 {
		return ""
	}
	return rest[:end]
}

// matchTemplate reports whether the template path accepts data as a
// resource of type want ("" for any) in FHIR version v. vals is scratch
// memory for the document's values.
func matchTemplate(v ohx.FHIRVersion, data string, want string, vals *[]string) bool {
	rt := templateRT(data)
	if rt == "" || want != "" && want != rt || len(data) > maxTemplateLen {
		return false
	}
	templates.RLock()
	sks := templates.m[templateKey{v, rt}]
	templates.RUnlock()
	for _, sk := range sks {
		vs := sk.variants.Load()
		if vs == nil {
			continue
		}
		if !sk.scan(data, (*vs)[0].vals, vals) {
			continue
		}
		// One skeleton per document: the bytes between values decide it.
		return sk.accepts(*vs, *vals)
	}
	return false
}

// scan reads data against the skeleton: the same bytes between values,
// values of the same kinds. It stores each value's token in vals (which
// the caller clears: they point into data). hint holds a variant's tokens:
// a value that starts with the same bytes as its hint is that token (the
// hint ends where its JSON token ends), and is not scanned again.
func (sk *skeleton) scan(data string, hint []string, vals *[]string) bool {
	*vals = (*vals)[:0]
	p := parser{s: data}
	for k, kind := range sk.kinds {
		seg := sk.segs[k]
		if len(data)-p.pos < len(seg) || data[p.pos:p.pos+len(seg)] != seg {
			return false
		}
		p.pos += len(seg)
		start := p.pos
		if p.pos >= len(data) {
			return false
		}
		if h := hint[k]; kind == kindString && len(data)-p.pos >= len(h) && data[p.pos:p.pos+len(h)] == h {
			// A string token ends at its first unescaped quote: the
			// hint's closing quote is that of the document's too.
			p.pos += len(h)
			*vals = append(*vals, h)
			continue
		}
		switch c := data[p.pos]; kind {
		case kindString:
			if c != '"' {
				return false
			}
			if _, err := p.str(); err != nil {
				return false
			}
		case kindNumber:
			if c != '-' && (c < '0' || c > '9') {
				return false
			}
			if err := p.number(); err != nil {
				return false
			}
		case kindBool:
			switch {
			case strings.HasPrefix(data[p.pos:], "true"):
				p.pos += 4
			case strings.HasPrefix(data[p.pos:], "false"):
				p.pos += 5
			default:
				return false
			}
		default: // kindNull
			if !strings.HasPrefix(data[p.pos:], "null") {
				return false
			}
			p.pos += 4
		}
		*vals = append(*vals, data[start:p.pos])
	}
	return data[p.pos:] == sk.segs[len(sk.kinds)]
}

// accepts reports whether some variant gives the document of values vals
// its verdict (see the top of this file).
func (sk *skeleton) accepts(vs []*variant, vals []string) bool {
	// checked[k]: value k passed its rule and the generic checks (0
	// unknown, 1 passed, 2 failed), shared by the variants tried.
	var small [64]byte
	var checked []byte
	if len(vals) <= len(small) {
		checked = small[:len(vals)]
	} else {
		checked = make([]byte, len(vals))
	}
next:
	for _, va := range vs {
		// The values the checks read: the same, or the same to the day.
		for _, k := range va.read {
			if val := vals[k]; val != va.vals[k] {
				if r := va.reads[k]; r&readValue != 0 || dayPrecise(val) != (r&readDayYes != 0) {
					continue next
				}
			}
		}
		// Every value that changed: its rule and the generic checks.
		for k, val := range vals {
			if val == va.vals[k] {
				continue
			}
			if checked[k] == 0 {
				checked[k] = 2
				if sk.valueOK(k, val) {
					checked[k] = 1
				}
			}
			if checked[k] == 2 {
				return false // the tree path reports it
			}
		}
		templateHits.Add(1)
		return true
	}
	return false
}

// dayPrecise is tree.dayPrecise's verdict on a string token; one with
// escapes is not judged here (false: the tree path decides).
func dayPrecise(tok string) bool {
	return len(tok) >= 8+2 && strings.IndexByte(tok, '\\') < 0
}

// valueOK applies to value k (a JSON token) what the tree path applies to
// every value: the plan's rule and, to strings, the generic checks. A
// string with escapes is left to the tree path.
func (sk *skeleton) valueOK(k int, tok string) bool {
	kind, r := sk.kinds[k], sk.rules[k]
	if kind == kindString {
		s := tok[1 : len(tok)-1]
		if strings.IndexByte(s, '\\') >= 0 || s == "" {
			return false
		}
		if strings.HasPrefix(s, "urn:uuid:") && !isUUIDURN(s) {
			return false
		}
		return r == nil || r.ok(kindString, s, true)
	}
	return r == nil || r.ok(kind, tok, true)
}

// addTemplate records data, accepted by the tree path as one resource of
// type rt whose tree is t and plan p, as a variant of its skeleton. It runs
// the Go checks once more, recording what they read.
func addTemplate(v ohx.FHIRVersion, data string, t *tree, rt string, p *plan) {
	if rt == "Bundle" || len(data) > maxTemplateLen || templateRT(data) != rt {
		return
	}
	segs, vals, kinds, ok := tokenize(data)
	if !ok || len(kinds) != len(p.rules) {
		return
	}
	// The tree's values in document order are the tokens' values.
	leaf := make([]int32, 0, len(kinds))
	for i := range t.nodes {
		if isLeaf(t.nodes[i].kind) {
			leaf = append(leaf, int32(i))
		}
	}
	if len(leaf) != len(kinds) {
		return
	}
	for k, i := range leaf {
		if t.nodes[i].kind != kinds[k] {
			return
		}
	}
	t.reads = make([]byte, len(t.nodes))
	c := checker{t: t, root: rt, r4: v == ohx.R4}
	c.walk(0)
	reads := t.reads
	t.reads = nil
	if len(c.violations) != 0 {
		return // cannot be: the tree path accepted it
	}
	va := &variant{vals: make([]string, len(kinds)), reads: make([]byte, len(kinds))}
	size := 0
	for k, i := range leaf {
		va.vals[k] = strings.Clone(vals[k])
		va.reads[k] = reads[i]
		if reads[i] != 0 {
			va.read = append(va.read, int32(k))
		}
		size += len(vals[k])
	}

	key := templateKey{v, rt}
	templates.Lock()
	defer templates.Unlock()
	var sk *skeleton
	for _, s := range templates.m[key] {
		if equalSegs(s.segs, segs) && string(s.kinds) == string(kinds) {
			sk = s
			break
		}
	}
	if sk == nil {
		size += len(data)
	}
	if templates.bytes+size > maxTemplateBytes {
		clear(templates.m)
		templates.bytes = 0
		sk = nil
		size += len(data)
	}
	if sk == nil {
		sk = &skeleton{segs: make([]string, len(segs)), kinds: kinds, rules: p.rules}
		for k, s := range segs {
			sk.segs[k] = strings.Clone(s)
		}
		list := append([]*skeleton{sk}, templates.m[key]...)
		if len(list) > maxSkeletons {
			list = list[:maxSkeletons] // the oldest goes; its bytes stay counted until the next reset
		}
		templates.m[key] = list
	}
	var vs []*variant
	if old := sk.variants.Load(); old != nil {
		vs = *old
	}
	if len(vs) > 0 {
		// The values read that tell this variant from the newest one
		// come first: a document of another patient or code is turned
		// away by its first comparison.
		prev := vs[0]
		slices.SortStableFunc(va.read, func(a, b int32) int {
			return cmpBool(va.vals[a] == prev.vals[a], va.vals[b] == prev.vals[b])
		})
	}
	vs = append([]*variant{va}, vs...)
	if len(vs) > maxVariants {
		vs = vs[:maxVariants]
	}
	sk.variants.Store(&vs)
	templates.bytes += size
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func equalSegs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tokenize splits a valid JSON document into the bytes between its values
// (segs, one more than values), its values' tokens and their kinds.
func tokenize(s string) (segs, vals []string, kinds []byte, ok bool) {
	var stack []byte // '{' or '['
	key := false     // the next string is a member name
	p := parser{s: s}
	from := 0
	for p.pos < len(s) {
		c := s[p.pos]
		start := p.pos
		var kind byte
		switch {
		case c == '{':
			stack = append(stack, c)
			key = true
			p.pos++
			continue
		case c == '[':
			stack = append(stack, c)
			p.pos++
			continue
		case c == '}' || c == ']':
			if len(stack) == 0 {
				return nil, nil, nil, false
			}
			stack = stack[:len(stack)-1]
			p.pos++
			continue
		case c == ',':
			key = len(stack) > 0 && stack[len(stack)-1] == '{'
			p.pos++
			continue
		case c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
			continue
		case c == '"':
			if _, err := p.str(); err != nil {
				return nil, nil, nil, false
			}
			if key {
				key = false
				continue
			}
			kind = kindString
		case c == '-' || c >= '0' && c <= '9':
			if err := p.number(); err != nil {
				return nil, nil, nil, false
			}
			kind = kindNumber
		case strings.HasPrefix(s[p.pos:], "true"):
			p.pos += 4
			kind = kindBool
		case strings.HasPrefix(s[p.pos:], "false"):
			p.pos += 5
			kind = kindBool
		case strings.HasPrefix(s[p.pos:], "null"):
			p.pos += 4
			kind = kindNull
		default:
			return nil, nil, nil, false
		}
		segs = append(segs, s[from:start])
		vals = append(vals, s[start:p.pos])
		kinds = append(kinds, kind)
		from = p.pos
	}
	segs = append(segs, s[from:])
	return segs, vals, kinds, len(stack) == 0
}

// resetTemplates empties the templates (tests).
func resetTemplates() {
	templates.Lock()
	defer templates.Unlock()
	clear(templates.m)
	templates.bytes = 0
}
