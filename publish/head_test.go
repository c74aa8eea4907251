package publish

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/openhealthexchange/ohx/internal/fhirname"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzReadHead checks readHead against encoding/json: with scanStrict the
// same verdict on whether the bytes are one JSON object, and in every mode
// the same resourceType, id and status for one JSON object (for scanFirst,
// one without repeated member names, which its validator refuses). No mode
// panics or reads past the bytes, valid or not.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Observation","id":"a-1","status":"final"}`,
		` { "id" : "x" , "resourceType" : "Device", "status":{"coding":[{"code":"entered-in-error"}]} } `,
		`{"a":[1,{"b":"}"}],"id":"\"q\\\"","resourceType":"Obs\u0065rvation","id":"last"}`,
		`{"resource\u0054ype":"Device","\u0069d":"d"}`,
		`{"status":null,"x":true,"y":-1.5e3,"z":"\\"}`,
		`{}`, `[]`, `"s"`, `null`, `{"id":"a"`, `{"id":"a"}{}`, ``, `{"id":}`, `{"id"}`, `{,}`, `{"a":1,,"id":"x"}`,
		`{"id":"a",}`, `{"id":"\q"}`, `{1:"a"}`, "{\"id\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A map, not a struct: encoding/json matches struct fields without
		// regard to case, a FHIR server reads "resourceType" exactly.
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(b, &want) != nil || want == nil
		for _, how := range []headScan{scanStrict, scanTrusted, scanFirst} {
			h, err := readHead(b, how, true) // must not panic, whatever b is
			if wantErr {
				if how == scanStrict {
					require.Error(t, err)
				}
				continue
			}
			if how == scanFirst && repeatsMember(b) {
				continue
			}
			require.NoError(t, err, "mode %d", how)
			check := func(raw []byte, key string) {
				w, ok := want[key]
				if !ok {
					assert.Nil(t, raw, key)
					return
				}
				var a, b any
				require.NoError(t, json.Unmarshal(w, &a))
				require.NoError(t, json.Unmarshal(raw, &b), "%s: %q", key, raw)
				assert.Equal(t, a, b, key)
				if s, ok := a.(string); ok {
					assert.True(t, equalString(raw, s), "%s: %q vs %q", key, raw, s)
				}
			}
			check(h.resourceType, "resourceType")
			check(h.id, "id")
			check(h.status, "status")
		}
	})
}

// repeatsMember reports whether the top level of a valid JSON object names a
// member twice (after decoding escapes).
func repeatsMember(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	if _, err := dec.Token(); err != nil {
		return false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		if seen[k.(string)] {
			return true
		}
		seen[k.(string)] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

func TestReadHeadRefusesWhatIsNotOneObject(t *testing.T) {
	for _, s := range []string{``, `null`, `[]`, `"Observation"`, `{"id":"a"`, `{"id":"a"}{}`, `{"id":"a",}`, `{"id" "a"}`} {
		_, err := readHead([]byte(s), scanStrict, true)
		assert.Error(t, err, s)
	}
	for _, how := range []headScan{scanStrict, scanTrusted} {
		h, err := readHead([]byte(`{"resourceType":"Observation","id":"a","id":"b"}`), how, true)
		require.NoError(t, err)
		assert.True(t, equalString(h.id, "b"), "the last of duplicate keys wins, as in encoding/json")
		assert.False(t, equalString(h.id, "a"))
	}
}

// TestReadHeadFirstStopsEarly: with scanFirst, what follows the members it
// wants is not read (a validator checked it).
func TestReadHeadFirstStopsEarly(t *testing.T) {
	h, err := readHead([]byte(`{"resourceType":"Observation","id":"a",!!!`), scanFirst, false)
	require.NoError(t, err)
	assert.True(t, equalString(h.resourceType, "Observation"))
	assert.True(t, equalString(h.id, "a"))
	h, err = readHead([]byte(`{"resourceType":"Observation","id":"a","x":[1,{"status":"no"}],"status":"final"}`), scanFirst, true)
	require.NoError(t, err)
	assert.True(t, equalString(h.status, "final"), "status read when wanted")
}

// FuzzResourceNames: the byte loops of the hot path accept exactly what
// the regular expressions of the NDJSON publisher accept.
func FuzzResourceNames(f *testing.F) {
	for _, s := range []string{"Observation", "O", "observation", "Obs1", "Device-", "a-Z.09", "", "x\n", "é", "[x]", "@`{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		assert.Equal(t, resourceTypeRE.MatchString(s), fhirname.IsResourceType(s), "type %q", s)
		assert.Equal(t, resourceIDRE.MatchString(s), fhirname.IsID(s), "id %q", s)
	})
}
