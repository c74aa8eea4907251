package validate

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/openhealthexchange/ohx"
)

// schemaJSON is a byte-for-byte copy of package/openapi/fhir.schema.json from
// the npm package hl7.fhir.r5.core@5.0.0 (origin, size and SHA-256 in
// fhir.schema.r5.SOURCE.md beside it).
//
//go:embed fhir.schema.r5.json
var schemaJSON []byte

// SchemaSHA256 is the SHA-256 of the embedded official R5 JSON schema, as
// recorded where the file was obtained (hl7.fhir.r5.core@5.0.0).
const SchemaSHA256 = "e865a3f40d9949c72da906ee3d89ae4c7066be27fd8a258cae80705e08e4d1b7"

// Violation is one reason why a resource is not valid FHIR R5.
type Violation struct {
	// Path locates the offending element, FHIRPath-like, starting with the
	// resource type: "Observation.component[1].code".
	Path string
	// Rule names what was broken: "schema", "required", "code", "empty",
	// "uuid", "reference", or an invariant key such as "sdd-1" or "bdl-7".
	Rule string
	// Message explains the violation without repeating the offending value.
	Message string
}

// String renders the violation as "path: message (rule)".
func (v Violation) String() string {
	return v.Path + ": " + v.Message + " (" + v.Rule + ")"
}

// Error is returned by Resource and Bundle when the JSON is not valid FHIR R5.
// It never contains the values of the document, only paths and rules.
type Error struct {
	// ResourceType is the resourceType of the validated document, or "" when
	// it had none.
	ResourceType string
	// Violations lists every problem found, schema violations first.
	Violations []Violation
	// Version is the FHIR version the document was validated as; empty
	// means R5.
	Version ohx.FHIRVersion
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("fhir " + strings.ToLower(e.Version.String()) + ": invalid ")
	if e.ResourceType != "" {
		b.WriteString(e.ResourceType)
	} else {
		b.WriteString("resource")
	}
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(len(e.Violations)))
	if len(e.Violations) == 1 {
		b.WriteString(" violation")
	} else {
		b.WriteString(" violations")
	}
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Has reports whether one of the violations has the given rule and, when
// path is not empty, the given path. It is meant for tests.
func (e *Error) Has(rule, path string) bool {
	for _, v := range e.Violations {
		if v.Rule == rule && (path == "" || v.Path == path) {
			return true
		}
	}
	return false
}

// ErrNotJSON is wrapped by the error returned for input that is not a single
// JSON object.
var ErrNotJSON = errors.New("fhir r5: input is not a JSON object")

// Ready reads the embedded schema and compiles the definitions of the
// resource types the project emits. It is optional: the first validation of
// each type does the same. Tests call it so that a broken schema fails loudly
// and early.
func Ready() error {
	return r5Set.ready()
}

// KnownResourceType reports whether the R5 schema defines the resource type.
func KnownResourceType(resourceType string) bool {
	return r5Set.knows(resourceType)
}

// Resource validates one FHIR R5 resource given as JSON: against the schema
// definition named by its resourceType, then with the Go checks described in
// the package documentation. A Bundle is validated with the bundle rules too.
// It returns nil, an *Error listing the violations, or an error wrapping
// ErrNotJSON.
func Resource(data []byte) error {
	return r5Set.validate(data, "", templated)
}

// Bundle validates a FHIR R5 Bundle given as JSON, including every entry
// resource and the references between entries. It is Resource with the
// extra requirement that resourceType is "Bundle".
func Bundle(data []byte) error {
	return r5Set.validate(data, "Bundle", templated)
}

// Value marshals v with encoding/json and validates the result as Resource
// does. It is a convenience for tests of code that builds resources.
func Value(v interface{ MarshalJSON() ([]byte, error) }) error {
	data, err := v.MarshalJSON()
	if err != nil {
		return fmt.Errorf("fhir r5: marshal: %w", err)
	}
	return Resource(data)
}

// safeJSONError describes a JSON syntax error without quoting the input.
func safeJSONError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "invalid character"); i >= 0 {
		return "invalid JSON syntax"
	}
	if strings.Contains(msg, "EOF") {
		return "unexpected end of JSON"
	}
	return "invalid JSON"
}

// schemaViolations flattens a schema validation error into violations whose
// paths start with prefix, their messages naming FHIR version v.
func schemaViolations(prefix string, v ohx.FHIRVersion, ve *jsonschema.ValidationError) []Violation {
	var out []Violation
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			add(&out, seen, Violation{Path: fhirPath(prefix, e.InstanceLocation), Rule: "schema", Message: kindMessage(e.ErrorKind, v)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// The validator's causes come in map order: sorted, an error reads the
	// same from one run to the next.
	slices.SortFunc(out, func(a, b Violation) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func add(out *[]Violation, seen map[string]bool, vi Violation) {
	k := vi.String()
	if seen[k] {
		return
	}
	seen[k] = true
	*out = append(*out, vi)
}

// fhirPath renders a JSON pointer token list as "Type.a[0].b".
func fhirPath(rt string, loc []string) string {
	var b strings.Builder
	b.WriteString(rt)
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		b.WriteString("." + tok)
	}
	return b.String()
}

var printer = message.NewPrinter(language.English)

// kindMessage describes a schema failure without echoing instance values;
// v names the FHIR version.
func kindMessage(k jsonschema.ErrorKind, v ohx.FHIRVersion) string {
	switch k := k.(type) {
	case *kind.Type:
		return "JSON type " + k.Got + " is not allowed here, want " + strings.Join(k.Want, " or ")
	case *kind.Required:
		return "missing required element(s) " + strings.Join(k.Missing, ", ")
	case *kind.AdditionalProperties:
		// The validator lists them in map order: sorted, the message
		// does not change from one run to the next.
		return "unknown element(s) " + strings.Join(slices.Sorted(slices.Values(k.Properties)), ", ") + " (not in " + string(v) + ")"
	case *kind.Const:
		if s, ok := k.Want.(string); ok {
			return "value must be " + s
		}
		return "value differs from the required constant"
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		return "value is not one of " + strings.Join(want, ", ")
	case *kind.Pattern:
		return "value does not match the " + string(v) + " datatype pattern"
	case *kind.Format:
		return "value is not a valid " + k.Want
	case *kind.FalseSchema:
		return "element is not allowed"
	case *kind.MinItems, *kind.MaxItems, *kind.MinLength, *kind.MaxLength,
		*kind.Minimum, *kind.Maximum, *kind.ExclusiveMinimum, *kind.ExclusiveMaximum,
		*kind.MinProperties, *kind.MaxProperties, *kind.UniqueItems, *kind.MultipleOf:
		// These messages name only the limits, never the value.
		return k.LocalizedString(printer)
	default:
		return "violates schema keyword " + strings.Join(k.KeywordPath(), "/")
	}
}
