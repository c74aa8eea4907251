package fhirmap_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// goldenBatch is a small batch that yields one resource of each kind: a
// short ECG keeps the golden file readable.
func goldenBatch() ohx.Batch {
	link := withingsLink()
	ss := withingsSamples()
	ecg, hr := ss[22], ss[23] // atrial fibrillation recording and its heart rate
	ecg.Waveform = &ohx.Waveform{Samples: ecgSignal(24, 300), SamplingFrequency: 300, FactorToMillivolts: 0.001, Lead: "I",
		Classification: ohx.ECGAtrialFibrillation}
	ecg.End = ecg.Start.Add(80 * time.Millisecond)
	samples := []ohx.Sample{ss[16], ss[15], ss[19], ecg, hr, customSamples()[0], hourlySamples()[0]}
	samples[5].Provider = "withings" // one link, one provider per batch
	return ohx.Batch{Link: link, Samples: samples, Devices: withingsDevices()[2:],
		Window: ohx.Window{Start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}}
}

func TestGolden(t *testing.T) {
	files := goldenFiles(t, ohx.R5)
	oo := r5.OperationOutcome{Issue: []r5.OperationOutcomeIssue{{Severity: "error", Code: "invalid",
		Diagnostics: ptrTo("Observation.status: status is not a code of the required value set observation-status")}}}
	require.NoError(t, oo.Validate())
	var err error
	files["operationoutcome.json"], err = oo.MarshalJSON()
	require.NoError(t, err)
	checkGolden(t, ohx.R5, "golden", "TestGolden", files)
}

func ptrTo[T any](v T) *T { return &v }

// TestGoldenR4 writes the R4 form of the golden batch to testdata/golden-r4:
// one file per resource kind (no DeviceAssociation: the Device names its
// patient), each validated against the R4 schema and checks.
func TestGoldenR4(t *testing.T) {
	checkGolden(t, ohx.R4, "golden-r4", "TestGoldenR4", goldenFiles(t, ohx.R4))
}

// goldenFiles maps the golden batch to FHIR version v and names the JSON of
// each resource kind, plus a transaction bundle of the first four resources.
func goldenFiles(t *testing.T, v ohx.FHIRVersion) map[string][]byte {
	tr := newTransformer(t, fhirmap.Config{Version: v})
	rs, err := tr.Transform(t.Context(), goldenBatch())
	require.NoError(t, err)
	names := []string{"device.json"}
	if v != ohx.R4 { // R4 has no DeviceAssociation
		names = append(names, "deviceassociation.json")
	}
	names = append(names,
		"observation-heart-rate.json", "observation-blood-pressure.json", "observation-sleep.json",
		"observation-ecg.json", "observation-ecg-heart-rate.json", "observation-rr-intervals.json",
		"observation-hourly-heart-rate.json", "diagnosticreport-ecg.json",
		"device-software.json", "provenance-device.json", "provenance-heart-rate.json",
	)
	require.GreaterOrEqual(t, len(rs), len(names))
	files := map[string][]byte{}
	for i, n := range names {
		files[n] = rs[i].JSON
	}
	files["bundle-transaction.json"], err = transaction(t, rs[:4], false).MarshalJSON()
	require.NoError(t, err)
	return files
}

// checkGolden validates each file in FHIR version v and compares it,
// indented, with testdata/<dir>/<name>; with -update it writes the file
// instead. test names the test that refreshes dir.
func checkGolden(t *testing.T, v ohx.FHIRVersion, dir, test string, files map[string][]byte) {
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, validate.ResourceVersion(v, data))
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, data, "", "  "))
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", dir, name)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "missing golden file; create it with: go test ./fhirmap -run "+test+" -update")
			assert.Equal(t, string(want), pretty.String(), "golden %s differs; review, then refresh with -update", name)
		})
	}
}
