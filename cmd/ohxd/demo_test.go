package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/publish"
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

// samplesRead returns the demo table's "patient provider type samples-read"
// rows.
func samplesRead(out string) []string {
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && strings.HasPrefix(f[0], "Patient/") {
			rows = append(rows, strings.Join(f[:4], " "))
		}
	}
	return rows
}

// The R4 demo reads what the R5 demo reads, and every line it writes is
// valid R4 (schema and Go checks); the folder's manifest says so, and an R5
// run refuses to write into it.
func TestDemoR4(t *testing.T) {
	args := []string{"-days", "1", "-until", "2026-11-20T00:00:00Z"}
	var r5out, r4out, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), append([]string{"demo", "-out", t.TempDir()}, args...), &r5out, &stderr), stderr.String())
	dir := t.TempDir()
	require.NoError(t, run(t.Context(), append([]string{"demo", "-fhir-version", "R4", "-out", dir}, args...), &r4out, &stderr), stderr.String())

	assert.Contains(t, r4out.String(), "the FHIR R4 server's content is in "+dir)
	want := samplesRead(r5out.String())
	require.NotEmpty(t, want)
	assert.Equal(t, want, samplesRead(r4out.String()), "the same samples read as the R5 demo")

	lines := readLines(t, dir)
	for _, f := range []string{"Observation.ndjson", "Device.ndjson", "DiagnosticReport.ndjson", "Provenance.ndjson"} {
		assert.NotEmpty(t, lines[f], f)
	}
	assert.NotContains(t, lines, "DeviceAssociation.ndjson", "R4 has no DeviceAssociation")
	n := 0
	for file, ls := range lines {
		for i, line := range ls {
			require.NoError(t, validate.ResourceVersion(ohx.R4, []byte(line)), "%s line %d", file, i+1)
			n++
		}
	}
	m, err := publish.ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, "4.0.1", m.FHIRVersion)
	counted := 0
	for _, f := range m.Files {
		assert.Len(t, lines[f.File], f.Count, f.File)
		counted += f.Count
	}
	assert.Equal(t, n, counted)
	t.Logf("R4 demo: %d resources, all valid R4", n)

	err = run(t.Context(), append([]string{"demo", "-out", dir}, args...), &r5out, &stderr)
	require.ErrorContains(t, err, "holds FHIR R4 output: give the R5 demo a directory of its own")
	assert.Error(t, run(t.Context(), []string{"demo", "-fhir-version", "R3"}, &r5out, &stderr))
}
