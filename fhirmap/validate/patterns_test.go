package validate

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPatternConstantsAreTheSchemas: the hand matchers are keyed by the
// schema's own pattern strings, so a schema with other patterns falls back to
// regexp instead of using a matcher written for something else.
func TestPatternConstantsAreTheSchemas(t *testing.T) {
	data, err := os.ReadFile("fhir.schema.r5.json")
	require.NoError(t, err)
	var doc struct {
		Definitions map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	for def, pat := range map[string]string{
		"string": patString, "markdown": patString, "code": patCode, "id": patID, "uri": patURI, "url": patURI,
		"canonical": patURI, "dateTime": patDateTime, "instant": patInstant, "date": patDate, "time": patTime,
	} {
		assert.Equal(t, pat, doc.Definitions[def].Pattern, def)
	}
}

// corpus derives strings near the seeds: every one-byte replacement from an
// alphabet, every deletion, every insertion and every truncation.
func corpus(seeds []string, alphabet string) []string {
	out := append([]string{""}, seeds...)
	for _, s := range seeds {
		for i := 0; i <= len(s); i++ {
			out = append(out, s[:i])
			if i < len(s) {
				out = append(out, s[:i]+s[i+1:])
			}
			for _, c := range alphabet {
				out = append(out, s[:i]+string(c)+s[i:])
				if i < len(s) {
					out = append(out, s[:i]+string(c)+s[i+1:])
				}
			}
		}
	}
	return out
}

var patternSeeds = []string{
	"2026-11-19T00:00:01+01:00", "2026-11-19T23:59:60.123456789Z", "2026-11-19", "2026-11", "2026", "2026-01-05:00",
	"2026-01+", "2026-01Z", "2026-12-31T12:00:00-14:00", "2026-12-31T12:00:00+14:00", "0001-01-01T00:00:00Z",
	"1000", "2000-02-29", "12:30:00", "23:59:60.5", "final", "entered-in-error", "a b", "a  b", " a", "a ",
	"http://loinc.org", "urn:uuid:0b6e0f3c-8e0a-4d55-9b43-3b1e8d1f2a10", "Heart rate", "/min", "é", "\x0b",
	strings.Repeat("a", 64), strings.Repeat("b", 65), "A.b-9",
}

const patternAlphabet = "0123456789-:+.TZ ta\t\n\r\f\x0bé_/"

func TestPatternMatchers(t *testing.T) {
	inputs := corpus(patternSeeds, patternAlphabet)
	require.Greater(t, len(inputs), 10000)
	for pat, hand := range handMatchers {
		re := regexp.MustCompile(pat)
		for _, s := range inputs {
			if re.MatchString(s) != hand(s) {
				t.Errorf("pattern %s on %q: regexp %v, hand matcher %v", pat, s, re.MatchString(s), hand(s))
			}
		}
	}
}

func FuzzPatternMatchers(f *testing.F) {
	for _, s := range patternSeeds {
		f.Add(s)
	}
	res := map[string]*regexp.Regexp{}
	for pat := range handMatchers {
		res[pat] = regexp.MustCompile(pat)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for pat, hand := range handMatchers {
			if res[pat].MatchString(s) != hand(s) {
				t.Errorf("pattern %s on %q: regexp %v, hand matcher %v", pat, s, res[pat].MatchString(s), hand(s))
			}
		}
	})
}

// uuidURN is the FHIR uuid datatype with the RFC 4122 (9562) version and
// variant bits: lower case, versions 1 to 8, variant 10xx. isUUIDURN is
// written from it.
var uuidURN = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDMatcher(t *testing.T) {
	for _, s := range corpus([]string{"urn:uuid:0b6e0f3c-8e0a-4d55-9b43-3b1e8d1f2a10", "urn:uuid:00000000-0000-8000-a000-000000000000"}, "0189abcfgA-:") {
		assert.Equal(t, uuidURN.MatchString(s), isUUIDURN(s), "%q", s)
	}
}

func TestNumberLiterals(t *testing.T) {
	// The R5 decimal pattern without its stray brace, and FHIR's integer
	// types as patterns plus the 32-bit range.
	decimal := regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9})?$`)
	lits := corpus([]string{"0", "-0", "72.5", "1e-7", "1.5E+10", "123456789012345678", "0.12345678901234567", "2147483647", "-2147483648", "1e123456789"}, "0159-.eE+")
	for _, s := range lits {
		if !json.Valid([]byte(s)) {
			continue // the parser never hands these over
		}
		assert.Equal(t, decimal.MatchString(s), isDecimal(s), "decimal %q", s)
	}
	for _, tt := range []struct {
		lit                 string
		integer, pos, unsig bool
	}{
		{"0", true, false, true}, {"1", true, true, true}, {"-1", true, false, false}, {"-0", false, false, false},
		{"2147483647", true, true, true}, {"2147483648", false, false, false}, {"-2147483648", true, false, false},
		{"1.0", false, false, false}, {"1e2", false, false, false}, {"01", false, false, false},
	} {
		assert.Equal(t, tt.integer, numberLiterals["integer"](tt.lit), "integer %s", tt.lit)
		assert.Equal(t, tt.pos, numberLiterals["positiveInt"](tt.lit), "positiveInt %s", tt.lit)
		assert.Equal(t, tt.unsig, numberLiterals["unsignedInt"](tt.lit), "unsignedInt %s", tt.lit)
	}
}

func TestShapeCacheIsBounded(t *testing.T) {
	resetShapes()
	defer resetShapes()
	p := &plan{}
	for i := range maxShapes + 100 {
		storeShape("R5", []byte(strings.Repeat("x", 10)+string(rune(i))), p)
	}
	assert.Len(t, shapes.m, maxShapes)
	big := []byte(strings.Repeat("y", maxShapeLen+1))
	storeShape("R5", big, p)
	assert.Nil(t, lookupShape("R5", big), "an oversized shape is not cached")
	resetShapes()
	for i := range 300 {
		storeShape("R5", append([]byte(strings.Repeat("z", maxShapeLen-8)), byte(i), byte(i>>8)), p)
	}
	assert.LessOrEqual(t, shapes.bytes, maxShapeBytes)
	assert.Less(t, len(shapes.m), 300)
	// The version is part of the key.
	storeShape("R5", []byte("same"), p)
	assert.NotNil(t, lookupShape("R5", []byte("same")))
	assert.Nil(t, lookupShape("R4", []byte("same")))
}
