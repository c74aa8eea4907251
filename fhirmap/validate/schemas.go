package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/openhealthexchange/ohx"
)

// schemaSet is what validation needs of one FHIR version: its embedded JSON
// schema, read on first use and compiled one resource definition at a time,
// the rules the fast path reads from it, and which Go checks apply. R5 and
// R4 are two values of it; everything else is shared.
//
// The schema is not decoded whole. load indexes where each definition's
// JSON lies in the embedded bytes (which stay in the binary's read-only
// data), and the compiler loads a definition as its own schema document
// when a $ref first reaches it (see def). Compiling what ohx emits
// decodes about 90 of the R5 schema's 857 definitions, and only those stay
// in memory.
type schemaSet struct {
	version ohx.FHIRVersion
	raw     []byte // the embedded schema
	// base prefixes the URL of each definition as its own document:
	// base + "Observation". The host is reserved (RFC 2606): nothing is
	// fetched, the loader reads the embedded bytes.
	base string
	// emitted are the resource types ohx writes in this version: ready
	// compiles them.
	emitted []string
	// numbers checks the literal of each numeric primitive type (by
	// definition name), which JSON Schema leaves unchecked.
	numbers map[string]func(string) bool

	once  sync.Once
	err   error
	known map[string]bool   // resource types of the schema's discriminator
	index map[string][2]int // where each definition's JSON lies in raw

	defsMu sync.Mutex
	defs   map[string]any // the definitions decoded so far, $refs rewritten

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema

	rulesMu sync.Mutex
	rules   map[string]*valueRule // by the definition they were read from
}

var (
	r5Set = &schemaSet{
		version: ohx.R5, raw: schemaJSON, base: "https://ohx.invalid/fhir/r5/", numbers: numberLiterals,
		emitted: []string{"Bundle", "Observation", "DiagnosticReport", "Device", "DeviceAssociation", "Provenance", "OperationOutcome"},
	}
	r4Set = &schemaSet{
		version: ohx.R4, raw: schemaR4JSON, base: "https://ohx.invalid/fhir/r4/", numbers: numberLiteralsR4,
		emitted: []string{"Bundle", "Observation", "DiagnosticReport", "Device", "Provenance", "OperationOutcome"},
	}
)

// setOf returns the schema set of FHIR version v ("" is R5).
func setOf(v ohx.FHIRVersion) (*schemaSet, error) {
	switch v {
	case "", ohx.R5:
		return r5Set, nil
	case ohx.R4:
		return r4Set, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownVersion, v)
}

// prefix starts the set's error messages: "fhir r5".
func (s *schemaSet) prefix() string {
	return "fhir " + strings.ToLower(string(s.version))
}

// load indexes the embedded schema once.
func (s *schemaSet) load() error {
	s.once.Do(func() {
		s.index, s.known, s.err = indexSchema(s.raw)
		if s.err != nil {
			s.err = fmt.Errorf("%s: read embedded schema: %w", s.prefix(), s.err)
			return
		}
		if _, ok := s.index["ResourceList"]; !ok || len(s.known) == 0 {
			s.err = errors.New(s.prefix() + ": embedded schema lists no resource types")
			return
		}
		s.defs = map[string]any{}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft6)
		c.UseLoader(defLoader{s})
		s.compiler = c
		s.compiled = map[string]*jsonschema.Schema{}
	})
	return s.err
}

// indexSchema reads the top level of a FHIR JSON schema: the byte range of
// each member of "definitions", and the resource types the discriminator
// maps. Nothing validates against the document's root (a oneOf over every
// resource definition), so it is not kept.
func indexSchema(raw []byte) (index map[string][2]int, known map[string]bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	index, known = map[string][2]int{}, map[string]bool{}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, nil, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		switch key {
		case "definitions":
			if err := expectDelim(dec, '{'); err != nil {
				return nil, nil, err
			}
			for dec.More() {
				name, err := dec.Token()
				if err != nil {
					return nil, nil, err
				}
				var def json.RawMessage
				if err := dec.Decode(&def); err != nil {
					return nil, nil, err
				}
				end := int(dec.InputOffset())
				index[fmt.Sprint(name)] = [2]int{end - len(def), end}
			}
			if err := expectDelim(dec, '}'); err != nil {
				return nil, nil, err
			}
		case "discriminator":
			var d struct {
				Mapping map[string]string `json:"mapping"`
			}
			if err := dec.Decode(&d); err != nil {
				return nil, nil, err
			}
			for rt := range d.Mapping {
				known[rt] = true
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, err
			}
		}
	}
	return index, known, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("want %v, got %v", d, tok)
	}
	return nil
}

// narrowedResourceList stands for the definition ResourceList.
//
// Nested resources (Bundle.entry.resource, contained, outcomes) are typed
// ResourceList, a oneOf over all resource definitions whose branches differ
// by their resourceType constant. Validating a nested resource against the
// definition its resourceType names is therefore equivalent, so
// ResourceList is narrowed to "an object with a resourceType" and every
// nested resource is validated on its own (see tree.nestedIn). This keeps
// compiling to the definitions in use instead of the whole schema, and
// errors point at the right branch.
func narrowedResourceList() map[string]any {
	return map[string]any{
		"type":       "object",
		"required":   []any{"resourceType"},
		"properties": map[string]any{"resourceType": map[string]any{"type": "string"}},
	}
}

// def returns the definition name, decoded from the embedded bytes on first
// use, with every "#/definitions/X" reference rewritten to base + "X": each
// definition is its own schema document for the compiler.
func (s *schemaSet) def(name string) (any, bool) {
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	if d, ok := s.defs[name]; ok {
		return d, true
	}
	r, ok := s.index[name]
	if !ok {
		return nil, false
	}
	var d any = narrowedResourceList()
	if name != "ResourceList" {
		var err error
		if d, err = jsonschema.UnmarshalJSON(bytes.NewReader(s.raw[r[0]:r[1]])); err != nil {
			return nil, false // indexSchema decoded it once already
		}
		s.rebase(d)
	}
	s.defs[name] = d
	return d, true
}

// rebase rewrites the local references of a definition to base.
func (s *schemaSet) rebase(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if ref, ok := e.(string); ok && k == "$ref" {
				if name, ok := strings.CutPrefix(ref, "#/definitions/"); ok {
					v[k] = s.base + name
				}
				continue
			}
			s.rebase(e)
		}
	case []any:
		for _, e := range v {
			s.rebase(e)
		}
	}
}

// defLoader gives the compiler each definition as its own document.
type defLoader struct{ s *schemaSet }

func (l defLoader) Load(url string) (any, error) {
	if name, ok := strings.CutPrefix(url, l.s.base); ok {
		if d, ok := l.s.def(name); ok {
			return d, nil
		}
	}
	return nil, errors.New("not a definition of the embedded schema")
}

// schemaFor returns the compiled schema of one resource definition.
func (s *schemaSet) schemaFor(resourceType string) (*jsonschema.Schema, error) {
	if err := s.load(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.compiled[resourceType]; ok {
		return sc, nil
	}
	sc, err := s.compiler.Compile(s.base + resourceType)
	if err != nil {
		return nil, fmt.Errorf("%s: compile %s: %w", s.prefix(), resourceType, err)
	}
	s.compiled[resourceType] = sc
	return sc, nil
}

// ready compiles the definitions of the resource types ohx emits.
func (s *schemaSet) ready() error {
	for _, rt := range s.emitted {
		if _, err := s.schemaFor(rt); err != nil {
			return err
		}
	}
	return nil
}

// knows reports whether the schema defines the resource type.
func (s *schemaSet) knows(resourceType string) bool {
	return s.load() == nil && s.known[resourceType]
}
