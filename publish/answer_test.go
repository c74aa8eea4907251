package publish

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeAnswer: whenever the one-pass reader of a transaction-response
// takes a body, encoding/json takes it too and reads the same bundle type,
// the same statuses and the same outcomes.
func FuzzDecodeAnswer(f *testing.F) {
	entry := `{"response":{"status":"201 Created","location":"Observation/x/_history/1","etag":"W/\"1\"","lastModified":"2026-11-20T00:00:00Z"}}`
	for _, s := range []string{
		`{"resourceType":"Bundle","type":"transaction-response","entry":[` + entry + `,` + entry + `]}`,
		`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"422 Unprocessable Entity","outcome":{"resourceType":"OperationOutcome","issue":[]}}},{"response":{}},{}]}`,
		` { "entry" : [ ] , "type" : "x" , "resourceType" : "Bundle" , "id" : [1,{"a":null}] } `,
		`{"resourceType":"Bundle","Type":"batch-response","entry":[]}`,
		`{"resourceType":"Bundle","type":"batch-response","entry":[],"entry":[` + entry + `]}`,
		`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":null},{"response":{"status":"200","outcome":null}}]}`,
		`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"+201 Created"}},{"response":{"status":" 201 "}},{"response":{"status":"2010"}}]}`,
		`{"resourceType":"Bundle","type":"batch-response","entry":[{"re\u0073ponse":{"status":"201"}},{"reſponse":{"status":"201"}}]}`,
		`{"resourceType":"Bundle","type":"batch-response","entry":null}`, `[]`, `null`, ``, `{"resourceType":"Bundle"}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeAnswerFast(body, nil)
		if !ok {
			return
		}
		slow, ok := decodeAnswerSlow(body, nil)
		require.True(t, ok, "encoding/json refuses what the fast path took")
		assert.Equal(t, slow.bundle, fast.bundle)
		assert.Equal(t, slow.typ, fast.typ)
		require.Len(t, fast.entries, len(slow.entries))
		for i := range slow.entries {
			s, f := slow.entries[i], fast.entries[i]
			assert.Equal(t, s.response, f.response, "entry %d", i)
			assert.Equal(t, s.status, f.status, "entry %d", i)
			assert.Equal(t, string(s.outcome), string(f.outcome), "entry %d", i)
		}
	})
}

// TestDecodeAnswerFastPathTakesPlainAnswers: the answers FHIR servers write
// (fhirtest's among them) take the fast path, which allocates nothing.
func TestDecodeAnswerFastPathTakesPlainAnswers(t *testing.T) {
	body := []byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[` +
		`{"response":{"status":"201 Created","location":"Observation/a/_history/1","etag":"W/\"1\"","lastModified":"2026-11-20T00:00:00Z"}},` +
		`{"response":{"status":"200 OK","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}}}]}`)
	buf := make([]entryAnswer, 0, 8)
	a, ok := decodeAnswerFast(body, buf)
	require.True(t, ok)
	assert.True(t, a.bundle)
	require.Len(t, a.entries, 2)
	assert.Equal(t, 201, a.entries[0].status)
	assert.Equal(t, 200, a.entries[1].status)
	assert.Contains(t, string(a.entries[1].outcome), `"informational"`)
	allocs := testing.AllocsPerRun(100, func() { _, _ = decodeAnswer(body, buf) })
	assert.Zero(t, allocs)
}
