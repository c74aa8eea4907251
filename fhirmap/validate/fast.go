package validate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/openhealthexchange/ohx"
)

// The fast path gives the same verdict as running the full schema on every
// document, at a fraction of the cost, because the schema can only tell two
// documents of the same shape apart by their values.
//
// The R5 and R4 schemas use these keywords and no others: $ref (without
// siblings), properties, additionalProperties (always false), required,
// items, type (object, array, string, number, boolean), pattern, enum and
// const (and oneOf in ResourceList, which schemaSet.def narrows). Which
// schema applies at which place of a document follows from the member names alone ($ref, properties,
// items), and type, required and additionalProperties only look at member
// names and JSON types. So once the schema accepted a document, it accepts
// every document with the same member names and JSON types at the same
// places, provided their values satisfy the value keywords: pattern (on
// strings), enum and const. buildPlan records those keywords per value while
// the schema runs on the first document of a shape, and refuses to (the shape
// then always gets the full schema) when it meets a keyword outside that
// list, so a schema that changes cannot silently weaken the argument.
//
// A shape is the member names and JSON types of a resource in document
// order, array elements included, with nested resources reduced to "a
// resource" (they are validated on their own, against their own definition,
// as the full path does). Keeping document order instead of sorting the
// paths makes the key finer, never coarser: two documents with one key have
// the same sorted paths and types.

// Shape cache bounds: at most maxShapes shapes and maxShapeBytes of shape
// keys per process, all FHIR versions together; a shape longer than
// maxShapeLen is never cached (it gets the full schema every time). When the
// cache is full, arbitrary entries (Go map order) are evicted until the new
// one fits: the shapes ohx emits number in the tens, so eviction only happens
// when a process validates foreign documents of many shapes.
const (
	maxShapes     = 4096
	maxShapeBytes = 16 << 20
	maxShapeLen   = 64 << 10
)

// valueRule is what the schema asks of one value beyond its JSON type.
type valueRule struct {
	pattern func(string) bool // strings
	enum    map[string]bool   // strings
	konst   *string           // strings
	number  func(string) bool // number literals (decimal, integer, …)
}

// ok reports whether value v of kind k satisfies the rule. strings says
// whether to apply the schema's own string keywords (the fast path does;
// after a full schema run they have been applied already).
func (r *valueRule) ok(k byte, v string, strings bool) bool {
	switch k {
	case kindString:
		if !strings {
			return true
		}
		return (r.pattern == nil || r.pattern(v)) && (r.enum == nil || r.enum[v]) && (r.konst == nil || *r.konst == v)
	case kindNumber:
		return r.number == nil || r.number(v)
	}
	return true
}

// plan is a validated shape: the rule of each value, in document order.
type plan struct {
	rules []*valueRule
}

type shapeKey struct {
	version ohx.FHIRVersion
	shape   string
}

var shapes = struct {
	sync.RWMutex
	m     map[shapeKey]*plan
	bytes int
}{m: map[shapeKey]*plan{}}

// Counters for tests and the benchmark: full schema runs and fast hits.
var schemaRuns, shapeHits atomic.Int64

func lookupShape(v ohx.FHIRVersion, shape []byte) *plan {
	shapes.RLock()
	defer shapes.RUnlock()
	return shapes.m[shapeKey{v, string(shape)}]
}

func storeShape(v ohx.FHIRVersion, shape []byte, p *plan) {
	if len(shape) > maxShapeLen {
		return
	}
	shapes.Lock()
	defer shapes.Unlock()
	k := shapeKey{v, string(shape)}
	if _, ok := shapes.m[k]; ok {
		return
	}
	for old := range shapes.m {
		if len(shapes.m) < maxShapes && shapes.bytes+len(k.shape) <= maxShapeBytes {
			break
		}
		shapes.bytes -= len(old.shape)
		delete(shapes.m, old)
	}
	shapes.m[k] = p
	shapes.bytes += len(k.shape)
}

// resetShapes empties the cache and the templates built on it (tests).
func resetShapes() {
	shapes.Lock()
	clear(shapes.m)
	shapes.bytes = 0
	shapes.Unlock()
	resetTemplates()
}

// scratch is the per-call working memory, pooled.
type scratch struct {
	t      tree
	c      checker
	shape  []byte
	leaves []int32
	res    []int32
	vals   []string // the template path's values
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release returns the scratch to the pool without the caller's document.
func (sc *scratch) release() {
	clear(sc.t.nodes) // only what this call used: the length is reset
	sc.t.nodes = sc.t.nodes[:0]
	sc.t.src = ""
	clear(sc.vals)
	sc.vals = sc.vals[:0]
	clear(sc.c.refs)
	sc.c = checker{refs: sc.c.refs[:0], seen: sc.c.seen, full: sc.c.full}
	scratchPool.Put(sc)
}

// isNested reports whether node i, below the resource root r, is a nested
// resource: an object with a string resourceType.
func (t *tree) isNested(i, r int32) bool {
	if i == r || t.nodes[i].kind != kindObject {
		return false
	}
	_, ok := t.resourceType(i)
	return ok
}

// shapeOf appends the shape of the resource rooted at r to sc.shape and its
// values (leaves) to sc.leaves, in document order. Member names are length
// prefixed, so no name can forge structure.
func (sc *scratch) shapeOf(r int32) {
	sc.shape = sc.shape[:0]
	sc.leaves = sc.leaves[:0]
	sc.walkShape(r, r)
}

func (sc *scratch) walkShape(i, r int32) {
	t := &sc.t
	n := &t.nodes[i]
	if t.isNested(i, r) {
		sc.shape = append(sc.shape, 'R')
		return
	}
	switch n.kind {
	case kindObject, kindArray:
		sc.shape = append(sc.shape, n.kind)
		for c := n.first; c >= 0; c = t.nodes[c].next {
			if n.kind == kindObject {
				k := t.nodes[c].key
				if len(k) < 0x80 { // the one-byte uvarint, without the call
					sc.shape = append(sc.shape, byte(len(k)))
				} else {
					sc.shape = binary.AppendUvarint(sc.shape, uint64(len(k)))
				}
				sc.shape = append(sc.shape, k...)
			}
			sc.walkShape(c, r)
		}
		sc.shape = append(sc.shape, '.')
	default:
		sc.shape = append(sc.shape, n.kind)
		sc.leaves = append(sc.leaves, i)
	}
}

// nestedIn appends the nested resources below r (not inside them) in
// document order.
func (t *tree) nestedIn(i, r int32, out []int32) []int32 {
	for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
		if t.isNested(c, r) {
			out = append(out, c)
			out = t.nestedIn(c, c, out)
			continue
		}
		out = t.nestedIn(c, r, out)
	}
	return out
}

// method is how validate decides.
type method uint8

const (
	// fullSchema runs the schema on every resource: the reference the
	// other two are tested against.
	fullSchema method = iota
	// shapesOnly gives a resource whose shape the schema accepted before
	// only the value rules (see the top of this file).
	shapesOnly
	// templated first tries the template path (template.go), then
	// shapesOnly: what Resource and ResourceVersion do.
	templated
)

// validate checks one document as FHIR version s. The Go checks run on
// every document (or, on the template path, on one that read the same
// values).
func (s *schemaSet) validate(data []byte, want string, how method) error {
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	src := unsafe.String(unsafe.SliceData(data), len(data))
	if how == templated && matchTemplate(s.version, src, want, &sc.vals) {
		return nil
	}
	cache := how != fullSchema
	t := &sc.t
	if err := t.parse(data); err != nil {
		if errors.Is(err, errDuplicate) {
			return fmt.Errorf("%w: a member name repeats", ErrNotJSON)
		}
		return fmt.Errorf("%w: %s", ErrNotJSON, "invalid JSON syntax")
	}
	if t.nodes[0].kind != kindObject {
		return ErrNotJSON
	}
	rt, _ := t.resourceType(0)
	switch {
	case rt == "":
		return s.invalid("", []Violation{{Path: "(root)", Rule: "required", Message: "resourceType is missing or not a string"}})
	case want != "" && rt != want:
		return s.invalid("", []Violation{{Path: "resourceType", Rule: "schema", Message: "resourceType must be " + want}})
	}
	if err := s.load(); err != nil {
		return err
	}
	if !s.known[rt] {
		return s.invalid("", []Violation{{Path: "resourceType", Rule: "schema", Message: s.notType()}})
	}
	var vs []Violation // nil unless the document is invalid
	sc.res = t.nestedIn(0, 0, append(sc.res[:0], 0))
	var doc any     // the document as the schema validator reads it, on a miss
	var known *plan // the cached plan of a single resource, for a template
	for _, r := range sc.res {
		nrt, _ := t.resourceType(r)
		if !s.known[nrt] {
			vs = append(vs, Violation{Path: t.path(r, rt) + ".resourceType", Rule: "schema", Message: s.notType()})
			continue
		}
		sc.shapeOf(r)
		if cache {
			if p := lookupShape(s.version, sc.shape); p != nil {
				shapeHits.Add(1)
				vs = p.check(t, sc.leaves, rt, s.version, true, vs)
				if len(sc.res) == 1 {
					known = p
				}
				continue
			}
		}
		if doc == nil {
			var err error
			if doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(data)); err != nil {
				return fmt.Errorf("%w: %s", ErrNotJSON, safeJSONError(err))
			}
		}
		schema, err := s.schemaFor(nrt)
		if err != nil {
			return err
		}
		if cache {
			schemaRuns.Add(1)
		}
		failed := false
		if err := schema.Validate(valueAt(doc, t, r)); err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				return fmt.Errorf("%s: schema validation: %w", s.prefix(), err)
			}
			vs = append(vs, schemaViolations(t.path(r, rt), s.version, ve)...)
			failed = true
		}
		p, complete := s.buildPlan(t, r, nrt, sc.leaves)
		before := len(vs)
		vs = p.check(t, sc.leaves, rt, s.version, false, vs)
		if cache && !failed && complete && len(vs) == before {
			storeShape(s.version, sc.shape, p)
		}
	}
	c := &sc.c
	c.t, c.root, c.r4 = t, rt, s.version == ohx.R4
	c.walk(0)
	vs = append(vs, c.violations...)
	if len(vs) == 0 {
		if known != nil && how == templated {
			// The second document of a shape (its plan was cached) or
			// one whose values the templates did not cover.
			addTemplate(s.version, src, t, rt, known)
		}
		return nil
	}
	// The resource type names the resource in the error, which outlives
	// data: a copy.
	return s.invalid(strings.Clone(rt), vs)
}

// invalid is the error for a document of resource type rt ("" when it has
// no valid one) with the violations vs.
func (s *schemaSet) invalid(rt string, vs []Violation) *Error {
	e := &Error{ResourceType: rt, Violations: vs}
	if s.version != ohx.R5 {
		e.Version = s.version
	}
	return e
}

// notType is the message for a resource type the schema does not define.
func (s *schemaSet) notType() string {
	return "not an " + string(s.version) + " resource type"
}

// check applies the plan's rules to the values of a resource, appending a
// violation per value that fails.
func (p *plan) check(t *tree, leaves []int32, rootName string, v ohx.FHIRVersion, strings bool, out []Violation) []Violation {
	for k, i := range leaves {
		r := p.rules[k]
		if r == nil {
			continue
		}
		n := &t.nodes[i]
		if r.ok(n.kind, n.val, strings) {
			continue
		}
		msg := "value does not match the " + string(v) + " datatype pattern"
		switch {
		case n.kind == kindNumber:
			msg = "number is not a valid literal of its " + string(v) + " datatype"
		case r.konst != nil:
			msg = "value must be " + *r.konst
		case r.enum != nil && (r.pattern == nil || r.pattern(n.val)):
			msg = "value is not one of the codes the schema enumerates"
		}
		out = append(out, Violation{Path: t.path(i, rootName), Rule: "schema", Message: msg})
	}
	return out
}

// valueAt returns the value of node i in doc, the same document decoded by
// the schema validator's reader.
func valueAt(doc any, t *tree, i int32) any {
	if i <= 0 {
		return doc
	}
	n := &t.nodes[i]
	parent := valueAt(doc, t, n.parent)
	if n.index >= 0 {
		a, _ := parent.([]any)
		if int(n.index) < len(a) {
			return a[n.index]
		}
		return nil
	}
	m, _ := parent.(map[string]any)
	return m[n.key]
}

// schemaKeywords are the keywords buildPlan knows how to read; meeting any
// other one makes the shape uncacheable.
var schemaKeywords = map[string]bool{
	"$ref": true, "description": true, "type": true, "properties": true, "additionalProperties": true,
	"required": true, "items": true, "pattern": true, "enum": true, "const": true,
}

// shapeTypes are the values of "type" that a shape decides.
var shapeTypes = map[string]bool{"object": true, "array": true, "string": true, "number": true, "boolean": true}

// buildPlan reads from the schema the rule of each value of the resource
// rooted at r. It reports complete = false when some place of the document
// is not covered by the keywords it understands.
func (s *schemaSet) buildPlan(t *tree, r int32, rt string, leaves []int32) (*plan, bool) {
	p := &plan{rules: make([]*valueRule, 0, len(leaves))}
	complete := true
	var walk func(i int32, schema any, ref string)
	walk = func(i int32, schema any, ref string) {
		schema, ref = s.resolveRef(schema, ref)
		m, ok := schema.(map[string]any)
		if !ok {
			complete = false
			if isLeaf(t.nodes[i].kind) {
				p.rules = append(p.rules, nil)
				return
			}
			m = map[string]any{}
		}
		for k := range m {
			if !schemaKeywords[k] {
				complete = false
			}
		}
		if ty, ok := m["type"]; ok && !shapeTypes[fmt.Sprint(ty)] {
			complete = false // "integer", or a list of types, looks at the value
		}
		_, hasEnum := m["enum"]
		_, hasConst := m["const"]
		n := &t.nodes[i]
		if t.isNested(i, r) {
			// The parent's schema sees "an object with a string
			// resourceType" here: fine for the narrowed ResourceList,
			// or for a place that never accepts a resourceType.
			props, _ := m["properties"].(map[string]any)
			_, typed := props["resourceType"]
			if ref != "ResourceList" && (typed || m["additionalProperties"] != false) {
				complete = false
			}
			return
		}
		if (hasEnum || hasConst) && n.kind != kindString {
			complete = false
		}
		switch n.kind {
		case kindObject:
			props, _ := m["properties"].(map[string]any)
			for c := n.first; c >= 0; c = t.nodes[c].next {
				sub, ok := props[t.nodes[c].key]
				if !ok {
					complete = false // additionalProperties: the schema rejects it
					sub = map[string]any{}
				}
				walk(c, sub, "")
			}
		case kindArray:
			items, ok := m["items"]
			if !ok {
				items = map[string]any{}
			}
			for c := n.first; c >= 0; c = t.nodes[c].next {
				walk(c, items, "")
			}
		default:
			p.rules = append(p.rules, s.rule(m, ref, &complete))
		}
	}
	walk(r, map[string]any{"$ref": s.base + rt}, "")
	if len(p.rules) != len(leaves) {
		panic("validate: plan and shape disagree") // a programming error, never input-dependent
	}
	return p, complete
}

func isLeaf(k byte) bool { return k != kindObject && k != kindArray }

// resolveRef follows $ref to the definition it names and returns the name of
// the last definition followed (or ref when there was none).
func (s *schemaSet) resolveRef(schema any, ref string) (any, string) {
	for range 64 {
		m, ok := schema.(map[string]any)
		if !ok {
			return schema, ref
		}
		target, ok := m["$ref"].(string)
		if !ok {
			return schema, ref
		}
		name, ok := strings.CutPrefix(target, s.base)
		if !ok || name == "" {
			return nil, ref
		}
		ref = name
		if schema, ok = s.def(ref); !ok {
			return nil, ref
		}
	}
	return nil, ref
}

// rule returns the value rule of a leaf schema m, read from definition ref;
// rules are shared per definition.
func (s *schemaSet) rule(m map[string]any, ref string, complete *bool) *valueRule {
	_, hasPattern := m["pattern"]
	_, hasEnum := m["enum"]
	_, hasConst := m["const"]
	number := s.numbers[ref]
	if !hasPattern && !hasEnum && !hasConst && number == nil {
		return nil
	}
	key := ""
	if ref != "" && !hasEnum && !hasConst {
		key = ref // a primitive type's definition: shared
	}
	if key != "" {
		s.rulesMu.Lock()
		r, ok := s.rules[key]
		s.rulesMu.Unlock()
		if ok {
			return r
		}
	}
	r := &valueRule{number: number}
	if pat, ok := m["pattern"].(string); ok {
		f, err := matcher(pat)
		if err != nil {
			*complete = false
			return nil
		}
		r.pattern = f
	} else if hasPattern {
		*complete = false
	}
	if hasEnum {
		vals, _ := m["enum"].([]any)
		r.enum = make(map[string]bool, len(vals))
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				*complete = false
			}
			r.enum[str] = true
		}
	}
	if hasConst {
		str, ok := m["const"].(string)
		if !ok {
			*complete = false
		}
		r.konst = &str
	}
	if key != "" {
		s.rulesMu.Lock()
		if s.rules == nil {
			s.rules = map[string]*valueRule{}
		}
		s.rules[key] = r
		s.rulesMu.Unlock()
	}
	return r
}
