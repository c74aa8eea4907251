package validate

import (
	"bytes"
	"encoding/json"
	"strings"
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
