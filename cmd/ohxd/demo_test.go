package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// readLines returns every NDJSON line of dir, per file, sorted.
func readLines(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	require.NoError(t, err)
	out := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			out[filepath.Base(f)] = append(out[filepath.Base(f)], sc.Text())
		}
		require.NoError(t, sc.Err())
		slices.Sort(out[filepath.Base(f)])
	}
	return out
}

func TestDemoOutputValidatesAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"demo", "-out", dir, "-days", "1", "-until", "2026-11-20T00:00:00Z"}, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "Patient/demo-withings-1")
	assert.Contains(t, stdout.String(), "Patient/demo-fitbit-1")
	assert.Contains(t, stdout.String(), "Patient/demo-oura-1")
	assert.Contains(t, stdout.String(), "Events the EHR received (signed, verified): 6", "link.active and sync.completed per patient")
	assert.Regexp(t, `sync\.completed +Patient/demo-withings-1 +withings +initial sync: \d+ data types`, stdout.String())
	first := readLines(t, dir)
	assertOuraOutput(t, first)
	require.Contains(t, first, "Observation.ndjson")
	for _, want := range []string{"Device.ndjson", "DeviceAssociation.ndjson", "DiagnosticReport.ndjson", "Provenance.ndjson"} {
		assert.Contains(t, first, want)
	}
	for file, lines := range first {
		for i, line := range lines {
			require.NoError(t, validate.Resource([]byte(line)), "%s line %d", file, i+1)
		}
	}

	stdout.Reset()
	require.NoError(t, run(t.Context(), []string{"demo", "-out", dir, "-days", "1", "-until", "2026-11-20T00:00:00Z"}, &stdout, &stderr))
	second := readLines(t, dir)
	require.Equal(t, len(first), len(second))
	for file := range first {
		assert.Equal(t, normalized(t, first[file]), normalized(t, second[file]),
			"%s: a second run into the same folder leaves the same lines (up to server-assigned meta)", file)
	}
}

// normalized drops what the FHIR server assigns (meta.versionId,
// meta.lastUpdated) and when a Provenance was recorded, and sorts the lines.
func normalized(t *testing.T, lines []string) []string {
	t.Helper()
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if meta, ok := m["meta"].(map[string]any); ok {
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
		}
		delete(m, "recorded")
		b, err := json.Marshal(m)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Error(t, run(t.Context(), []string{"frobnicate"}, &stdout, &stderr))
	assert.Error(t, run(t.Context(), nil, &stdout, &stderr))
	require.NoError(t, run(t.Context(), []string{"version"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "ohxd ")
}
