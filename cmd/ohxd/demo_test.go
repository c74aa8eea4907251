package main

import (
	"bufio"
	"bytes"
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
	assert.Contains(t, stdout.String(), "heart-rate")
	first := readLines(t, dir)
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
	for file := range first {
		// Provenance records when it was written; every other line is identical.
		if file == "Provenance.ndjson" {
			assert.Len(t, second[file], len(first[file]), file)
			continue
		}
		assert.Equal(t, first[file], second[file], "%s: a second run into the same folder leaves the same lines", file)
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Error(t, run(t.Context(), []string{"frobnicate"}, &stdout, &stderr))
	assert.Error(t, run(t.Context(), nil, &stdout, &stderr))
	require.NoError(t, run(t.Context(), []string{"version"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "ohxd ")
}
