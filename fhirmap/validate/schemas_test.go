package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefinitionsAreTheDocuments: each definition the compiler loads on its
// own is the document's definition of that name, read from its byte range,
// with only its local references rewritten; the known resource types are
// the discriminator's.
func TestDefinitionsAreTheDocuments(t *testing.T) {
	for _, s := range []*schemaSet{r5Set, r4Set} {
		t.Run(string(s.version), func(t *testing.T) {
			require.NoError(t, s.load())
			var doc struct {
				Definitions   map[string]json.RawMessage `json:"definitions"`
				Discriminator struct {
					Mapping map[string]string `json:"mapping"`
				} `json:"discriminator"`
			}
			require.NoError(t, json.Unmarshal(s.raw, &doc))
			require.Len(t, s.index, len(doc.Definitions))
			for name, want := range doc.Definitions {
				r := s.index[name]
				require.True(t, bytes.Equal(want, s.raw[r[0]:r[1]]), name)
			}
			require.Len(t, s.known, len(doc.Discriminator.Mapping))
			for rt := range doc.Discriminator.Mapping {
				assert.True(t, s.known[rt], rt)
			}

			d, ok := s.def("Observation")
			require.True(t, ok)
			rebased, err := json.Marshal(d)
			require.NoError(t, err)
			original := string(doc.Definitions["Observation"])
			require.Contains(t, original, `"#/definitions/`)
			assert.NotContains(t, string(rebased), `"#/definitions/`)
			var want, got any
			require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(original, `"#/definitions/`, `"`+s.base)), &want))
			require.NoError(t, json.Unmarshal(rebased, &got))
			assert.Equal(t, want, got)

			rl, ok := s.def("ResourceList")
			require.True(t, ok)
			assert.Equal(t, narrowedResourceList(), rl)
			_, ok = s.def("NoSuchDefinition")
			assert.False(t, ok)
		})
	}
}

// TestColdSetConcurrent: goroutines that validate different resource types
// with a fresh schema set load and compile its definitions concurrently
// (run with -race) and agree with the warm set.
func TestColdSetConcurrent(t *testing.T) {
	cold := &schemaSet{version: r5Set.version, raw: r5Set.raw, base: r5Set.base, numbers: r5Set.numbers, emitted: r5Set.emitted}
	var docs [][]byte
	for _, name := range []string{"observation-heart-rate.json", "observation-ecg.json", "device.json", "deviceassociation.json",
		"provenance.json", "bundle-transaction.json", "diagnosticreport.json", "operationoutcome.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "valid", name))
		require.NoError(t, err)
		docs = append(docs, data, bytes.Replace(data, []byte(`"resourceType"`), []byte(`"unknownElement":1,"resourceType"`), 1))
	}
	errs := make([]error, len(docs))
	var wg sync.WaitGroup
	for i, d := range docs {
		wg.Go(func() { errs[i] = cold.validate(d, "", fullSchema) })
	}
	wg.Wait()
	for i, d := range docs {
		assert.Equal(t, r5Set.validate(d, "", fullSchema) == nil, errs[i] == nil, "%d", i)
		assert.Equal(t, i%2 == 0, errs[i] == nil, "%d: %v", i, errs[i])
	}
}
