package fhirtest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResponseBundleBytes: the struct form of a transaction-response encodes
// to the bytes the map form it replaced encoded to (encoding/json sorts map
// keys).
func TestResponseBundleBytes(t *testing.T) {
	p := newProblem(http.StatusBadRequest, "invalid", "bad", "Bundle.entry[1].resource")
	rb := responseBundle{ResourceType: "Bundle", Type: "batch-response", Entry: []responseEntryOut{
		responseEntry(&target{typ: "Observation", id: "a1", create: true}, 3, "2026-11-20T00:00:00Z"),
		problemEntry(p),
	}}
	got, err := json.Marshal(rb)
	require.NoError(t, err)
	assert.Equal(t, string(got), string(rb.appendJSON(nil)), "appendJSON writes what json.Marshal writes")
	for _, empty := range []responseBundle{{}, {Entry: []responseEntryOut{}}} {
		want, err := json.Marshal(empty)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(empty.appendJSON(nil)))
	}
	want, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch-response", "entry": []any{
		map[string]any{"response": map[string]any{"status": "201 Created", "location": "Observation/a1/_history/3", "etag": `W/"3"`, "lastModified": "2026-11-20T00:00:00Z"}},
		map[string]any{"response": map[string]any{"status": "400 Bad Request", "outcome": p.outcome}},
	}})
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
	assert.Equal(t, string(want), string(got))
}

// TestResponseLocationLater: an entry whose location appendJSON writes
// from its target (as a transaction's are) has the bytes of one whose
// location is a string.
func TestResponseLocationLater(t *testing.T) {
	for _, id := range []string{"a1", "e0009242-10e0-583c-9528-000000000001", `<&>"\`, "caf\u00e9", "x\u2028", "\x01", "\xe9"} {
		for _, version := range []int{1, 63, 64, 1234567} {
			tg := &target{typ: "Observation", id: id, create: version == 1}
			eager := responseEntry(tg, version, "2026-11-20T00:00:00Z")
			later := responseEntryBut(tg, version, "2026-11-20T00:00:00Z")
			later.at, later.version = tg, version
			assert.Empty(t, later.Response.Location)
			assert.Equal(t, string(eager.appendJSON(nil)), string(later.appendJSON(nil)), "%q %d", id, version)
			want, err := json.Marshal(eager)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(eager.appendJSON(nil)))
		}
	}
}
