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
