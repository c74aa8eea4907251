package publish

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzReadHead checks readHead against encoding/json: the same verdict on
// whether the bytes are one JSON object, the same resourceType, id and status.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Observation","id":"a-1","status":"final"}`,
		` { "id" : "x" , "resourceType" : "Device", "status":{"coding":[{"code":"entered-in-error"}]} } `,
		`{"a":[1,{"b":"}"}],"id":"\"q\\\"","resourceType":"Obs\u0065rvation","id":"last"}`,
		`{"resource\u0054ype":"Device","\u0069d":"d"}`,
		`{"status":null,"x":true,"y":-1.5e3,"z":"\\"}`,
		`{}`, `[]`, `"s"`, `null`, `{"id":"a"`, `{"id":"a"}{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A map, not a struct: encoding/json matches struct fields without
		// regard to case, a FHIR server reads "resourceType" exactly.
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(b, &want) != nil || want == nil
		h, err := readHead(b)
		if wantErr {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
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
	})
}

func TestReadHeadRefusesWhatIsNotOneObject(t *testing.T) {
	for _, s := range []string{``, `null`, `[]`, `"Observation"`, `{"id":"a"`, `{"id":"a"}{}`, `{"id":"a",}`} {
		_, err := readHead([]byte(s))
		assert.Error(t, err, s)
	}
	h, err := readHead([]byte(`{"resourceType":"Observation","id":"a","id":"b"}`))
	require.NoError(t, err)
	assert.True(t, equalString(h.id, "b"), "the last of duplicate keys wins, as in encoding/json")
	assert.False(t, equalString(h.id, "a"))
}
