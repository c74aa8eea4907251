package validate

import "github.com/openhealthexchange/ohx"

// Hooks for the external tests of the fast path.
var (
	// ResetShapes empties the shape cache.
	ResetShapes = resetShapes
)

// ValidateFull runs the full R5 schema on every resource of the document,
// without the shape cache: the reference the fast path is tested against.
func ValidateFull(data []byte, want string) error { return r5Set.validate(data, want, fullSchema) }

// ValidateFullVersion is ValidateFull in FHIR version v.
func ValidateFullVersion(v ohx.FHIRVersion, data []byte, want string) error {
	s, err := setOf(v)
	if err != nil {
		return err
	}
	return s.validate(data, want, fullSchema)
}

// SchemaRuns counts the full schema runs of the fast path so far.
func SchemaRuns() int64 { return schemaRuns.Load() }

// ResetTemplates empties the templates; TemplateHits counts the documents
// the template path accepted.
var ResetTemplates = resetTemplates

func TemplateHits() int64 { return templateHits.Load() }

// ValidateWithoutTemplates validates as ResourceVersion does, without the
// template path: the reference it is tested against.
func ValidateWithoutTemplates(v ohx.FHIRVersion, data []byte) error {
	s, err := setOf(v)
	if err != nil {
		return err
	}
	return s.validate(data, "", shapesOnly)
}

// Tokens returns the start and end offsets of each value of a JSON
// document, as the template path cuts it.
func Tokens(data []byte) (starts, ends []int) {
	segs, vals, _, ok := tokenize(string(data))
	if !ok {
		return nil, nil
	}
	at := 0
	for k, v := range vals {
		at += len(segs[k])
		starts, ends = append(starts, at), append(ends, at+len(v))
		at += len(v)
	}
	return starts, ends
}

// TemplateCounts returns the number of skeletons and variants kept.
func TemplateCounts() (skeletons, variants int) {
	templates.RLock()
	defer templates.RUnlock()
	for _, sks := range templates.m {
		for _, sk := range sks {
			skeletons++
			if vs := sk.variants.Load(); vs != nil {
				variants += len(*vs)
			}
		}
	}
	return skeletons, variants
}
