package publish_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
)

// observation builds a minimal valid R5 Observation (heart rate).
func observation(id string, bpm int) ohx.Resource {
	js := fmt.Sprintf(`{
  "resourceType": "Observation",
  "id": %q,
  "identifier": [{"system": "urn:ohx:test", "value": %q}],
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
  "subject": {"reference": "Patient/p1"},
  "effectiveDateTime": "2026-11-01T10:00:00Z",
  "valueQuantity": {"value": %d, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"}
}`, id, id, bpm)
	return ohx.Resource{
		Type:       "Observation",
		ID:         id,
		Identifier: "urn:ohx:test|" + id,
		DataType:   ohx.HeartRate,
		JSON:       json.RawMessage(js),
	}
}

func device(id string) ohx.Resource {
	js := fmt.Sprintf(`{"resourceType":"Device","id":%q,"status":"active","manufacturer":"Withings"}`, id)
	return ohx.Resource{Type: "Device", ID: id, Identifier: "urn:ohx:device|" + id, JSON: json.RawMessage(js)}
}

// readLines returns the ids of a file's lines in order and the lines.
func readLines(t *testing.T, path string) (ids []string, lines []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &head), "every line is one JSON object")
		ids = append(ids, head.ID)
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return ids, lines
}

func TestNDJSONRepublishKeepsOneLinePerID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	batch := []ohx.Resource{observation("b", 60), observation("a", 61), device("d1"), observation("c", 62)}

	p, err := publish.NewNDJSON(dir)
	require.NoError(t, err)
	res, err := p.Publish(t.Context(), batch)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"Observation/b", "Observation/a", "Device/d1", "Observation/c"}, res.Written)
	assert.Empty(t, res.Rejected)
	require.NoError(t, p.Close())

	ids1, lines1 := readLines(t, filepath.Join(dir, "Observation.ndjson"))
	assert.Equal(t, []string{"b", "a", "c"}, ids1, "insertion order is kept")
	devIDs, _ := readLines(t, filepath.Join(dir, "Device.ndjson"))
	assert.Equal(t, []string{"d1"}, devIDs)

	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), info.Mode().Perm())

	// A second run into the same directory, by a new publisher, with the same
	// resources twice in one batch and across batches.
	p2, err := publish.NewNDJSON(dir)
	require.NoError(t, err)
	_, err = p2.Publish(t.Context(), append(slices.Clone(batch), batch...))
	require.NoError(t, err)
	_, err = p2.Publish(t.Context(), batch)
	require.NoError(t, err)
	require.NoError(t, p2.Close())

	ids2, lines2 := readLines(t, filepath.Join(dir, "Observation.ndjson"))
	assert.Equal(t, ids1, ids2)
	assert.Equal(t, lines1, lines2, "same line set after re-publishing")
}

func TestNDJSONReplacesChangedResourceInPlace(t *testing.T) {
	dir := t.TempDir()
	p, err := publish.NewNDJSON(dir)
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{observation("a", 60), observation("b", 61), observation("c", 62)})
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{observation("b", 99), observation("d", 63)})
	require.NoError(t, err)
	require.NoError(t, p.Flush(t.Context()))

	ids, lines := readLines(t, filepath.Join(dir, "Observation.ndjson"))
	assert.Equal(t, []string{"a", "b", "c", "d"}, ids, "a replaced resource keeps its position")
	assert.Contains(t, lines[1], `"value":99`, "the later version wins")

	// The publisher keeps working after a rewrite, and a new publisher
	// reading the directory agrees.
	_, err = p.Publish(t.Context(), []ohx.Resource{observation("a", 70)})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	ids, lines = readLines(t, filepath.Join(dir, "Observation.ndjson"))
	assert.Equal(t, []string{"a", "b", "c", "d"}, ids)
	assert.Contains(t, lines[0], `"value":70`)

	_, err = p.Publish(t.Context(), []ohx.Resource{observation("e", 1)})
	assert.ErrorIs(t, err, publish.ErrClosed)
}

func TestNDJSONRejectsInvalidResources(t *testing.T) {
	good := observation("ok", 60)
	mismatched := observation("x", 60)
	mismatched.ID = "y"
	tests := []struct {
		name   string
		res    ohx.Resource
		key    string
		reason string
	}{
		{"path traversal in type", ohx.Resource{Type: "../etc/passwd", ID: "a", JSON: good.JSON}, "invalid-type/a", "invalid resource type"},
		{"lower-case type", ohx.Resource{Type: "observation", ID: "a", JSON: good.JSON}, "invalid-type/a", "invalid resource type"},
		{"one-letter type", ohx.Resource{Type: "O", ID: "a", JSON: good.JSON}, "invalid-type/a", "invalid resource type"},
		{"slash in id", ohx.Resource{Type: "Observation", ID: "a/../b", JSON: good.JSON}, "Observation/invalid-id", "invalid resource id"},
		{"not JSON", ohx.Resource{Type: "Observation", ID: "ok", JSON: json.RawMessage(`{"resourceType":`)}, "Observation/ok", "not a JSON object"},
		{"type mismatch", ohx.Resource{Type: "Device", ID: "ok", JSON: good.JSON}, "Device/ok", "resourceType in JSON"},
		{"id mismatch", mismatched, "Observation/y", "id in JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := publish.NewNDJSON(dir)
			require.NoError(t, err)
			res, err := p.Publish(t.Context(), []ohx.Resource{tc.res, good})
			require.NoError(t, err)
			require.NoError(t, p.Close())
			require.Len(t, res.Rejected, 1)
			assert.Equal(t, tc.key, res.Rejected[0].Key)
			assert.Contains(t, res.Rejected[0].Reason, tc.reason)
			assert.Equal(t, []string{"Observation/ok"}, res.Written, "the valid resource is still written")

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Equal(t, []string{"Observation.ndjson", publish.ManifestName}, names, "nothing else than the file and the manifest is created")
		})
	}
}

func TestNDJSONValidatorRejects(t *testing.T) {
	dir := t.TempDir()
	p, err := publish.NewNDJSON(dir, publish.WithNDJSONValidator(func(b []byte) error {
		var v struct{ ID string }
		_ = json.Unmarshal(b, &v)
		if v.ID == "bad" {
			return fmt.Errorf("Observation.status: required")
		}
		return nil
	}))
	require.NoError(t, err)
	res, err := p.Publish(t.Context(), []ohx.Resource{observation("bad", 1), observation("good", 2)})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	assert.Equal(t, []ohx.Rejection{{Key: "Observation/bad", Reason: "Observation.status: required"}}, res.Rejected)
	ids, _ := readLines(t, filepath.Join(dir, "Observation.ndjson"))
	assert.Equal(t, []string{"good"}, ids)
}

func TestNDJSONRecoversFromInterruptedAppend(t *testing.T) {
	dir := t.TempDir()
	p, err := publish.NewNDJSON(dir)
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{observation("a", 60)})
	require.NoError(t, err)
	require.NoError(t, p.Close())

	// A crash in the middle of an append leaves a partial last line.
	path := filepath.Join(dir, "Observation.ndjson")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"resourceType":"Observation","id":"b","sta`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	p, err = publish.NewNDJSON(dir)
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{observation("b", 61), observation("a", 60)})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	ids, _ := readLines(t, path)
	assert.Equal(t, []string{"a", "b"}, ids)
}

func TestNDJSONRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Observation.ndjson")
	require.NoError(t, os.WriteFile(path, []byte("hello\n"), 0o600))
	p, err := publish.NewNDJSON(dir)
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{observation("a", 60)})
	require.ErrorContains(t, err, "line 1 is not a Observation resource")
	require.NoError(t, p.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(b), "the foreign file is left alone")
}

func TestNDJSONManyReplacementsStayLinear(t *testing.T) {
	dir := t.TempDir()
	p, err := publish.NewNDJSON(dir)
	require.NoError(t, err)
	const n = 3000
	for round := range 3 {
		batch := make([]ohx.Resource, 0, n)
		for i := range n {
			batch = append(batch, observation(fmt.Sprintf("o%05d", i), 60+round))
		}
		_, err := p.Publish(t.Context(), batch)
		require.NoError(t, err)
		// Automatic rewrites bound the file to about twice its live size.
		info, err := os.Stat(filepath.Join(dir, "Observation.ndjson"))
		require.NoError(t, err)
		assert.Less(t, info.Size(), int64(3*n*len(mustCompact(t, batch[0].JSON))))
	}
	require.NoError(t, p.Close())
	ids, lines := readLines(t, filepath.Join(dir, "Observation.ndjson"))
	require.Len(t, ids, n)
	assert.True(t, slices.IsSorted(ids))
	for _, l := range lines {
		assert.Contains(t, l, `"value":62`)
	}
}

func mustCompact(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}

func BenchmarkNDJSON(b *testing.B) {
	const n = 100_000
	batch := make([]ohx.Resource, 0, 500)
	for b.Loop() {
		dir := b.TempDir()
		p, err := publish.NewNDJSON(dir)
		require.NoError(b, err)
		for round := range 2 { // the second round replaces every line
			for i := 0; i < n; i += 500 {
				batch = batch[:0]
				for j := i; j < i+500; j++ {
					batch = append(batch, observation(fmt.Sprintf("o%06d", j), 60+round))
				}
				if _, err := p.Publish(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
		}
		require.NoError(b, p.Close())
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "resources/s")
}
