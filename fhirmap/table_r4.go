package fhirmap

import (
	"strings"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r4"
)

// r4Differences are the elements whose R4 form differs from the R5 one, as
// package fhirmap/r4 converts them: element, R5, R4.
var r4Differences = [][3]string{
	{"regular SampledData (ECG, regular series)", "`interval` + `intervalUnit` `ms`", "`period` (always ms)"},
	{"SampledData with offsets (RR intervals, raw aggregate series)", "`offsets` (ms from the start)", "evenly spaced from 0: `period`; otherwise `period` 0 and the offsets in the HL7 cross-version extension `" + r4.ExtensionSampledDataOffsets + "`"},
	{"device names", "`name[]` type `registered-name` (with `display`) and `displayName`", "`deviceName[]` type `model-name`"},
	{"device type", "`type[]`", "`type` (the first)"},
	{"device properties (battery)", "`property.valueQuantity` / `valueCodeableConcept`", "`property.valueQuantity[]` / `valueCode[]`"},
	{"device ↔ patient", "`DeviceAssociation` (status `attached` for what is worn, else `unknown`; `period.start` from the provider's first use)", "`Device.patient` (no DeviceAssociation in R4; the first-use time is not carried)"},
	{"Provenance", "`patient` set", "no `patient` element in R4 (the targets are the patient's)"},
	{"vital-sign profiles", "R5 `vitalsigns` and the specific R5 profile in `meta.profile` where met", "US Core " + USCoreVersion + " profile in `meta.profile` where met (table above)"},
	{"elements R4 lacks", "`Observation.triggeredBy`, `DiagnosticReport.note`/`supportingInfo`", "left out (none is emitted by the mapping today)"},
}

// MappingTableR4 renders, as Markdown, where ohx's FHIR R4 output
// (Config.Version = ohx.R4) differs from the R5 one: per data type, the US
// Core vital-signs profile its individual Observations claim and the codes
// whose system differs; then per element, the R5 and the R4 form. Everything
// else (codes, units, categories, values, ids, references) is the same in
// both versions. The README's R4 section is this output (see
// TestReadmeMappingTableR4).
func MappingTableR4() string {
	var b strings.Builder
	b.WriteString("| data type | R5 | R4 |\n|---|---|---|\n")
	for _, info := range ohx.DataTypes() {
		m, ok := tableIndex[info.Type]
		if !ok {
			continue
		}
		var r5Cells, r4Cells []string
		if p := usCoreFor(info.Type); p != nil {
			r5Cells = append(r5Cells, "no profile")
			r4Cells = append(r4Cells, "US Core `"+p.profile[strings.LastIndex(p.profile, "/")+1:]+"` (unit "+unitList(p.units)+")")
		}
		for _, c := range m.Codes {
			if c.System != ownCode && r4.System(c.System) != c.System {
				r5Cells = append(r5Cells, systemName[c.System]+" "+c.Code+" in `"+c.System+"`")
				r4Cells = append(r4Cells, systemName[c.System]+" "+c.Code+" in `"+r4.System(c.System)+"`")
			}
		}
		if info.Shape == ohx.ShapeWaveform || info.Type == ohx.RRIntervals {
			r5Cells = append(r5Cells, "SampledData `interval`/`offsets`")
			r4Cells = append(r4Cells, "SampledData `period`")
		}
		if len(r4Cells) == 0 {
			continue
		}
		b.WriteString("| `" + string(info.Type) + "` | " + strings.Join(r5Cells, "; ") + " | " + strings.Join(r4Cells, "; ") + " |\n")
	}
	b.WriteString("\n| element | R5 | R4 |\n|---|---|---|\n")
	for _, d := range r4Differences {
		b.WriteString("| " + d[0] + " | " + d[1] + " | " + d[2] + " |\n")
	}
	b.WriteString("\nUS Core profiles are claimed only by individual measurements whose value (both components for blood pressure) ")
	b.WriteString("is in a unit the profile allows; hourly aggregates and the other vital signs claim none.\n")
	return b.String()
}

func unitList(units []string) string {
	q := make([]string, len(units))
	for i, u := range units {
		q[i] = "`" + u + "`"
	}
	return strings.Join(q, ", ")
}
