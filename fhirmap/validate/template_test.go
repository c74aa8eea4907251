package validate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// templateSeeds are the single-resource documents of version v the
// template path is tested on, compact as fhirmap writes them (a template
// starts with {"resourceType":"): the fhirmap-shaped Observations and every
// valid example but the Bundle.
func templateSeeds(t testing.TB, v ohx.FHIRVersion) [][]byte {
	t.Helper()
	seeds := [][]byte{[]byte(observation), []byte(profiled)}
	dir := map[ohx.FHIRVersion]string{ohx.R5: "valid", ohx.R4: "valid-r4"}[v]
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "bundle") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, json.Compact(&b, data))
		require.True(t, bytes.HasPrefix(b.Bytes(), []byte(`{"resourceType":"`)), f)
		seeds = append(seeds, b.Bytes())
	}
	return seeds
}

// trickyTokens are values that pass or fail a rule or a Go check in ways
// the seeds' own values do not: empty and escaped strings, urn:uuids of
// either kind, dates of every precision, references to other types, codes
// outside their value sets, numbers at the limits of the R5 decimal, the
// other kinds.
var trickyTokens = []string{
	`""`, `"x"`, `" x"`, `"a  b"`, `"\u0066inal"`, `"fin\"al"`, `"é"`,
	`"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"`, `"urn:uuid:0b6e0f3c-8e0a-0d55-9b43-3b1e8d1f2a10"`, `"urn:uuid:x"`,
	`"2026"`, `"2026-11"`, `"2026-11-19"`, `"2026-11-19T00:05:00Z"`, `"2026-13-19"`, `"2026-11-19T00:05:00"`,
	`"Group/1"`, `"Patient/2"`, `"Patient/"`, `"Device/x"`,
	`"final"`, `"done"`, `"amended"`, `"entered-in-error"`, `"active"`, `"attached"`, `"user-friendly-name"`, `"source"`,
	`"8867-4"`, `"29463-7"`, `"85354-9"`, `"8480-6"`, `"/min"`, `"%"`, `"kg"`, `"mm[Hg]"`, `"Cel"`, `"ms"`,
	`"http://loinc.org"`, `"http://unitsofmeasure.org"`, `"http://snomed.info/sct"`, `"vital-signs"`,
	`"http://hl7.org/fhir/StructureDefinition/vitalsigns"`, `"http://hl7.org/fhir/StructureDefinition/bodyweight"`,
	`0`, `-1`, `1`, `72.5`, `1e5`, `0.123456789012345678`, `1234567890123456789.5`, `true`, `false`, `null`,
}

// TestTemplateValueMutations: every value of every seed, replaced by every
// value of the seeds and every tricky token, gets the same verdict and the
// same error with the template path as without it, in R5 and R4. The
// replacement keeps the bytes between values, so each document that keeps
// its kinds reaches the template path; its checks read some values
// (status, codes, profiles, references, the day of effectiveDateTime) and
// not others, which is what this compares.
func TestTemplateValueMutations(t *testing.T) {
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		t.Run(string(v), func(t *testing.T) {
			validate.ResetShapes()
			seeds := templateSeeds(t, v)
			pool := append([]string{}, trickyTokens...)
			for _, s := range seeds {
				starts, ends := validate.Tokens(s)
				require.NotEmpty(t, starts)
				for k := range starts {
					pool = append(pool, string(s[starts[k]:ends[k]]))
				}
			}
			pool = unique(pool)
			hits := validate.TemplateHits()
			accepted, rejected := 0, 0
			for _, s := range seeds {
				// The second validation of a shape builds its template.
				require.NoError(t, validate.ResourceVersion(v, s))
				require.NoError(t, validate.ResourceVersion(v, s))
				before := validate.TemplateHits()
				require.NoError(t, validate.ResourceVersion(v, s))
				require.Equal(t, before+1, validate.TemplateHits(), "the third validation takes the template path")
				starts, ends := validate.Tokens(s)
				for k := range starts {
					for _, tok := range pool {
						doc := make([]byte, 0, len(s)+len(tok))
						doc = append(append(append(doc, s[:starts[k]]...), tok...), s[ends[k]:]...)
						with := validate.ResourceVersion(v, doc)
						without := validate.ValidateWithoutTemplates(v, doc)
						if with == nil {
							accepted++
						} else {
							rejected++
						}
						require.Equal(t, fmt.Sprint(without), fmt.Sprint(with), "%s value %d → %s", s[:40], k, tok)
					}
				}
			}
			t.Logf("%d accepted, %d rejected, %d by the template path", accepted, rejected, validate.TemplateHits()-hits)
			assert.Greater(t, validate.TemplateHits()-hits, int64(accepted/4), "the template path decides many")
			assert.Greater(t, rejected, 1000)
		})
	}
}

func unique(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestTemplateChecksWhatChanged names the cases the template path must not
// decide by itself: the verdict of a value a Go check reads, and a value
// that breaks a rule, are the tree path's; a value nobody reads that keeps
// its rules is the template's.
func TestTemplateChecksWhatChanged(t *testing.T) {
	validate.ResetShapes()
	seed := []byte(profiled)
	require.NoError(t, validate.Resource(seed))
	require.NoError(t, validate.Resource(seed)) // builds the template
	for _, tt := range []struct {
		name, old, new string
		ok, template   bool
	}{
		{"another value", `"value":72.5`, `"value":61`, true, true},
		{"another instant", `"effectiveDateTime":"2026-11-19T00:00:01+01:00"`, `"effectiveDateTime":"2026-11-19T00:00:02+01:00"`, true, true},
		{"effectiveDateTime to the day (vs-1 read)", `"effectiveDateTime":"2026-11-19T00:00:01+01:00"`, `"effectiveDateTime":"2026-11-19"`, true, true},
		{"effectiveDateTime to the month (vs-1)", `"effectiveDateTime":"2026-11-19T00:00:01+01:00"`, `"effectiveDateTime":"2026-11"`, false, false},
		{"another patient (read)", `"reference":"Patient/bench-1"`, `"reference":"Patient/bench-2"`, true, false},
		{"a Group (read)", `"reference":"Patient/bench-1"`, `"reference":"Group/bench-1"`, false, false},
		{"status outside its value set (read)", `"status":"final"`, `"status":"done"`, false, false},
		{"another unit (read)", `"code":"/min"`, `"code":"%"`, false, false},
		{"an instant out of range (rule)", `"issued":"2026-11-19T00:05:00Z"`, `"issued":"2026-11-19T24:05:00Z"`, false, false},
		{"an empty display (generic)", `"display":"Heart rate"`, `"display":""`, false, false},
		{"an escaped display", `"display":"Heart rate"`, `"display":"Heart\u0020rate"`, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, string(seed), tt.old)
			doc := []byte(strings.Replace(string(seed), tt.old, tt.new, 1))
			hits := validate.TemplateHits()
			err := validate.Resource(doc)
			assert.Equal(t, tt.ok, err == nil, "%v", err)
			assert.Equal(t, tt.template, validate.TemplateHits() > hits, "decided by the template path")
			assert.Equal(t, fmt.Sprint(validate.ValidateWithoutTemplates(ohx.R5, doc)), fmt.Sprint(err))
		})
	}
}

// TestTemplateBounds: a skeleton keeps at most 64 variants and a resource
// type at most 8 skeletons; past them the oldest go and verdicts stay.
func TestTemplateBounds(t *testing.T) {
	validate.ResetShapes()
	for i := range 80 {
		doc := strings.Replace(profiled, `"reference":"Patient/bench-1"`, fmt.Sprintf(`"reference":"Patient/p-%d"`, i), 1)
		require.NoError(t, validate.Resource([]byte(doc)))
		require.NoError(t, validate.Resource([]byte(doc)))
	}
	skeletons, variants := validate.TemplateCounts()
	assert.Equal(t, 1, skeletons)
	assert.Equal(t, 64, variants)
	for i := range 20 {
		// One more extension each time: another shape, another skeleton.
		ext := strings.Repeat(`{"url":"https://ohx.example/e","valueString":"x"},`, i+1)
		doc := strings.Replace(profiled, `"text":"Heart rate"`, `"text":"Heart rate","extension":[`+strings.TrimSuffix(ext, ",")+`]`, 1)
		require.NoError(t, validate.Resource([]byte(doc)))
		require.NoError(t, validate.Resource([]byte(doc)))
	}
	skeletons, _ = validate.TemplateCounts()
	assert.Equal(t, 8, skeletons)
}

// TestTemplatesConcurrent: goroutines that build and use templates at once
// keep their verdicts (run with -race).
func TestTemplatesConcurrent(t *testing.T) {
	validate.ResetShapes()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				good := strings.Replace(profiled, `"reference":"Patient/bench-1"`, fmt.Sprintf(`"reference":"Patient/p-%d"`, (g+i)%24), 1)
				good = strings.Replace(good, `"value":72.5`, fmt.Sprintf(`"value":%d`, 40+i), 1)
				if err := validate.Resource([]byte(good)); err != nil {
					errs[g] = err
					return
				}
				bad := strings.Replace(good, `"status":"final"`, `"status":"done"`, 1)
				if validate.Resource([]byte(bad)) == nil {
					errs[g] = fmt.Errorf("a status outside its value set was admitted")
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}

// FuzzTemplateAgreesWithTreePath: whatever the bytes, the template path
// (its templates built from the seeds) gives the verdict and the error of
// the tree path, and never admits what the full schema rejects.
func FuzzTemplateAgreesWithTreePath(f *testing.F) {
	seeds := map[ohx.FHIRVersion][][]byte{ohx.R5: templateSeeds(f, ohx.R5), ohx.R4: templateSeeds(f, ohx.R4)}
	for v, ss := range seeds {
		for _, s := range ss {
			f.Add(s, v == ohx.R4)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, r4 bool) {
		v := ohx.R5
		if r4 {
			v = ohx.R4
		}
		for _, s := range seeds[v] {
			_ = validate.ResourceVersion(v, s)
			_ = validate.ResourceVersion(v, s)
		}
		with := validate.ResourceVersion(v, data)
		without := validate.ValidateWithoutTemplates(v, data)
		if fmt.Sprint(with) != fmt.Sprint(without) {
			t.Fatalf("with templates %v, without %v", with, without)
		}
		if with == nil {
			if full := validate.ValidateFullVersion(v, data, ""); full != nil {
				t.Fatalf("full rejects (%v) but the template path admits", full)
			}
		}
	})
}

// BenchmarkResourceTemplate is the individual sync path's validation: one
// skeleton, documents that differ in id, identifier, instant and value
// (the template path; compare BenchmarkResourceFastProfiled, which
// validates one document again and again).
func BenchmarkResourceTemplate(b *testing.B) {
	benchmarkTemplate(b, 1)
}

// BenchmarkResourceTemplate48Patients: the same with the documents of 48
// patients interleaved, as when a daemon runs many syncs at once: each
// patient is a variant of the skeleton, the newest first.
func BenchmarkResourceTemplate48Patients(b *testing.B) {
	benchmarkTemplate(b, 48)
}

func benchmarkTemplate(b *testing.B, patients int) {
	validate.ResetShapes()
	docs := make([][]byte, 1024)
	for i := range docs {
		id := fmt.Sprintf("0b6e0f3c-8e0a-5d55-9b43-%012x", i)
		d := strings.ReplaceAll(profiled, "0b6e0f3c-8e0a-5d55-9b43-3b1e8d1f2a10", id)
		d = strings.Replace(d, "Patient/bench-1", fmt.Sprintf("Patient/bench-%d", i%patients), 1)
		d = strings.Replace(d, "2026-11-19T00:00:01+01:00", fmt.Sprintf("2026-11-19T%02d:%02d:%02d+01:00", i/3600, i/60%60, i%60), 1)
		d = strings.Replace(d, `"value":72.5`, fmt.Sprintf(`"value":%d`, 40+i%120), 1)
		docs[i] = []byte(d)
	}
	for _, d := range docs[:patients+1] {
		require.NoError(b, validate.Resource(d))
	}
	hits := validate.TemplateHits()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := validate.Resource(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	require.Equal(b, int64(i), validate.TemplateHits()-hits, "every document takes the template path")
}
