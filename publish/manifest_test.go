package publish_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
)

// The directory's manifest states the release of every line and counts the
// resources of each file, also those an earlier run wrote.
func TestNDJSONManifestStatesTheReleaseAndCounts(t *testing.T) {
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		t.Run(v.String(), func(t *testing.T) {
			dir := t.TempDir()
			mark := func(rs ...ohx.Resource) []ohx.Resource {
				for i := range rs {
					rs[i].FHIRVersion = v
				}
				return rs
			}
			p, err := publish.NewNDJSON(dir, publish.WithNDJSONVersion(v))
			require.NoError(t, err)
			assert.Equal(t, v, p.Version())
			_, err = p.Publish(t.Context(), mark(observation("a", 60), observation("b", 61), device("d1")))
			require.NoError(t, err)
			_, err = p.Publish(t.Context(), mark(observation("a", 62))) // replaces a line
			require.NoError(t, err)
			require.NoError(t, p.Flush(t.Context()))
			m, err := publish.ReadManifest(dir)
			require.NoError(t, err)
			assert.Equal(t, &publish.Manifest{FHIRVersion: v.Number(), Files: []publish.ManifestEntry{
				{Type: "Device", File: "Device.ndjson", Count: 1},
				{Type: "Observation", File: "Observation.ndjson", Count: 2},
			}}, m)
			rel, ok := m.Release()
			assert.True(t, ok)
			assert.Equal(t, v, rel)
			require.NoError(t, p.Close())

			// A second run that writes Observations only still counts the
			// Devices of the first.
			p, err = publish.NewNDJSON(dir, publish.WithNDJSONVersion(v))
			require.NoError(t, err)
			_, err = p.Publish(t.Context(), mark(observation("c", 63)))
			require.NoError(t, err)
			require.NoError(t, p.Close())
			m, err = publish.ReadManifest(dir)
			require.NoError(t, err)
			assert.Equal(t, []publish.ManifestEntry{
				{Type: "Device", File: "Device.ndjson", Count: 1},
				{Type: "Observation", File: "Observation.ndjson", Count: 3},
			}, m.Files)
		})
	}
}

func TestNDJSONKeepsOneReleasePerDirectory(t *testing.T) {
	t.Run("a resource of another release", func(t *testing.T) {
		dir := t.TempDir()
		p, err := publish.NewNDJSON(dir) // R5
		require.NoError(t, err)
		r4 := observation("b", 61)
		r4.FHIRVersion = ohx.R4
		res, err := p.Publish(t.Context(), []ohx.Resource{observation("a", 60), r4})
		require.ErrorIs(t, err, ohx.ErrPermanent)
		assert.EqualError(t, err, "publish: ndjson: resource Observation/b is FHIR R4 (4.0.1) but the directory holds FHIR R5 (5.0.0); nothing was written: "+ohx.ErrPermanent.Error())
		assert.Empty(t, res.Written)
		require.NoError(t, p.Close())
		_, err = os.Stat(filepath.Join(dir, "Observation.ndjson"))
		assert.ErrorIs(t, err, os.ErrNotExist, "nothing was written")
		m, err := publish.ReadManifest(dir)
		require.NoError(t, err)
		assert.Equal(t, "5.0.0", m.FHIRVersion, "an empty directory still states its release")
	})

	t.Run("a directory of another release", func(t *testing.T) {
		dir := t.TempDir()
		p, err := publish.NewNDJSON(dir, publish.WithNDJSONVersion(ohx.R4))
		require.NoError(t, err)
		require.NoError(t, p.Close())
		_, err = publish.NewNDJSON(dir)
		require.EqualError(t, err, "publish: the ndjson directory holds FHIR R4 output, not R5: write each release into a directory of its own")
		v, ok, err := publish.DirectoryVersion(dir)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, ohx.R4, v)
		_, err = publish.NewNDJSON(dir, publish.WithNDJSONVersion(ohx.R4))
		require.NoError(t, err, "the same release goes on")
	})

	t.Run("files without a manifest are R5", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Observation.ndjson"), nil, 0o600))
		_, err := publish.NewNDJSON(dir, publish.WithNDJSONVersion(ohx.R4))
		require.ErrorContains(t, err, "holds FHIR R5 output")
		_, err = publish.NewNDJSON(dir)
		require.NoError(t, err)
		v, ok, err := publish.DirectoryVersion(dir)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, ohx.R5, v)
	})

	t.Run("a manifest of a release ohx does not write", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, publish.WriteManifest(dir, &publish.Manifest{FHIRVersion: "4.3.0"}))
		_, err := publish.NewNDJSON(dir)
		require.ErrorContains(t, err, "fhirVersion 4.3.0")
	})

	t.Run("no manifest at all", func(t *testing.T) {
		_, err := publish.ReadManifest(t.TempDir())
		assert.ErrorIs(t, err, os.ErrNotExist)
		_, ok, err := publish.DirectoryVersion(t.TempDir())
		require.NoError(t, err)
		assert.False(t, ok)
	})
}
