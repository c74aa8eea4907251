package publish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/openhealthexchange/ohx"
)

// ManifestName is the name of the manifest in an NDJSON directory.
const ManifestName = "manifest.json"

// Manifest describes an NDJSON directory: the FHIR release every line is
// written in and, per resource type, the file and how many resources it
// holds. NDJSON keeps it in ManifestName; fhirtest.Server.WriteNDJSON
// writes one too. Its shape borrows the output list of a FHIR Bulk Data
// export manifest, with a file name relative to the directory instead of a
// URL; it is not a Bulk Data manifest.
type Manifest struct {
	// FHIRVersion is the release's number as a CapabilityStatement states it
	// ("5.0.0", "4.0.1").
	FHIRVersion string `json:"fhirVersion"`
	// Files lists the files, sorted by type.
	Files []ManifestEntry `json:"files"`
}

// ManifestEntry is one file of an NDJSON directory.
type ManifestEntry struct {
	// Type is the resource type of every line ("Observation").
	Type string `json:"type"`
	// File is the file's name in the directory ("Observation.ndjson").
	File string `json:"file"`
	// Count is the number of resources in the file (one line each).
	Count int `json:"count"`
}

// Release returns the FHIR release of FHIRVersion; false when it is none ohx
// writes.
func (m *Manifest) Release() (ohx.FHIRVersion, bool) { return releaseOf(m.FHIRVersion) }

// ReadManifest reads the manifest of an NDJSON directory. A directory
// without one gives an error that matches os.ErrNotExist.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("publish: read %s: %w", ManifestName, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.FHIRVersion == "" {
		return nil, fmt.Errorf("publish: %s is not an ohx NDJSON manifest", ManifestName)
	}
	return &m, nil
}

// WriteManifest writes m into dir (sorting its files by type), replacing
// the earlier manifest atomically: through a temporary file and a rename.
func WriteManifest(dir string, m *Manifest) error {
	_, err := writeManifest(dir, m, nil)
	return err
}

// writeManifest writes m unless its encoding equals last, and returns the
// encoding.
func writeManifest(dir string, m *Manifest, last []byte) ([]byte, error) {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Type < m.Files[j].Type })
	if m.Files == nil {
		m.Files = []ManifestEntry{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("publish: encode %s: %w", ManifestName, err)
	}
	b = append(b, '\n')
	if bytes.Equal(b, last) {
		return last, nil
	}
	tmp, err := os.CreateTemp(dir, "."+ManifestName+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("publish: write %s: %w", ManifestName, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, ManifestName))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return nil, fmt.Errorf("publish: write %s: %w", ManifestName, err)
	}
	return b, nil
}

// DirectoryVersion returns the FHIR release of the NDJSON files in dir: the
// one its manifest states, or R5 for NDJSON files without a manifest (ohx
// wrote only R5 before it wrote manifests). ok is false for a directory
// that holds neither, or does not exist. A manifest stating a release ohx
// does not write is an error.
func DirectoryVersion(dir string) (v ohx.FHIRVersion, ok bool, err error) {
	m, err := ReadManifest(dir)
	switch {
	case err == nil:
		v, known := m.Release()
		if !known {
			stated := m.FHIRVersion
			if !statedRE.MatchString(stated) {
				stated = "?"
			}
			return "", false, fmt.Errorf("publish: %s states fhirVersion %s, a release ohx does not write", ManifestName, stated)
		}
		return v, true, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", false, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if err != nil || len(files) == 0 {
		return "", false, nil
	}
	return ohx.R5, true, nil
}
