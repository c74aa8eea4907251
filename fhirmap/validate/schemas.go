package validate

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/openhealthexchange/ohx"
)

// schemaSet is what validation needs of one FHIR version: its embedded JSON
// schema, parsed on first use and compiled one resource definition at a
// time, the rules the fast path reads from it, and which Go checks apply.
// R5 and R4 are two values of it; everything else is shared.
type schemaSet struct {
	version ohx.FHIRVersion
	raw     []byte // the embedded schema
	url     string // the URL the schema is added to the compiler under
	// emitted are the resource types ohx writes in this version: ready
	// compiles them.
	emitted []string
	// numbers checks the literal of each numeric primitive type (by
	// definition name), which JSON Schema leaves unchecked.
	numbers map[string]func(string) bool

	once  sync.Once
	err   error
	known map[string]bool // resource types of the schema's discriminator
	defs  map[string]any  // the schema's definitions, ResourceList narrowed

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema

	rulesMu sync.Mutex
	rules   map[string]*valueRule // by the definition they were read from
}

var (
	r5Set = &schemaSet{
		version: ohx.R5, raw: schemaJSON, url: schemaURL, numbers: numberLiterals,
		emitted: []string{"Bundle", "Observation", "DiagnosticReport", "Device", "DeviceAssociation", "Provenance", "OperationOutcome"},
	}
	r4Set = &schemaSet{
		version: ohx.R4, raw: schemaR4JSON, url: schemaR4URL, numbers: numberLiteralsR4,
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

// load parses the embedded schema once.
func (s *schemaSet) load() error {
	s.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.raw))
		if err != nil {
			s.err = fmt.Errorf("%s: parse embedded schema: %w", s.prefix(), err)
			return
		}
		m, _ := doc.(map[string]any)
		s.known = map[string]bool{}
		if d, ok := m["discriminator"].(map[string]any); ok {
			if mp, ok := d["mapping"].(map[string]any); ok {
				for k := range mp {
					s.known[k] = true
				}
			}
		}
		s.defs, _ = m["definitions"].(map[string]any)
		if len(s.known) == 0 || s.defs == nil || s.defs["ResourceList"] == nil {
			s.err = errors.New(s.prefix() + ": embedded schema lists no resource types")
			return
		}
		// Nested resources (Bundle.entry.resource, contained, outcomes) are
		// typed ResourceList, a oneOf over all resource definitions whose
		// branches differ by their resourceType constant. Validating a
		// nested resource against the definition its resourceType names is
		// therefore equivalent, so ResourceList is narrowed to "an object
		// with a resourceType" and every nested resource is validated on its
		// own (see tree.nestedIn). This keeps compiling to the definitions in
		// use instead of the whole schema, and errors point at the right
		// branch.
		s.defs["ResourceList"] = map[string]any{
			"type":       "object",
			"required":   []any{"resourceType"},
			"properties": map[string]any{"resourceType": map[string]any{"type": "string"}},
		}
		// The document's root is a oneOf over every resource definition too.
		// Nothing validates against the root, but the compiler compiles a
		// document's root whenever it compiles a definition inside it, and the
		// root schema then holds every definition compiled (about 20 MB live
		// and most of the compile time). Only "#/definitions/…" is compiled.
		delete(m, "oneOf")
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft6)
		if err := c.AddResource(s.url, doc); err != nil {
			s.err = fmt.Errorf("%s: add embedded schema: %w", s.prefix(), err)
			return
		}
		s.compiler = c
		s.compiled = map[string]*jsonschema.Schema{}
	})
	return s.err
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
	sc, err := s.compiler.Compile(s.url + "#/definitions/" + resourceType)
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
