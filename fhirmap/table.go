package fhirmap

import (
	"cmp"
	"slices"
	"strings"

	"github.com/openhealthexchange/ohx"
)

var systemName = map[string]string{
	SystemLOINC:  "LOINC",
	SystemSNOMED: "SNOMED CT",
	SystemMDC:    "MDC",
}

func (c code) markdown() string {
	if c.System == ownCode {
		return "ohx `" + c.Code + "` (own)"
	}
	return systemName[c.System] + " " + c.Code + " " + c.Display
}

func statisticMarkdown(st statistic) string {
	if st.Code == "" {
		return st.Text
	}
	return st.Text + " (`" + st.Code + "`)"
}

// providerStatisticKeys returns the keys of providerStatistic in order.
func providerStatisticKeys() [][2]string {
	keys := make([][2]string, 0, len(providerStatistic))
	for k := range providerStatistic {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
	return keys
}

func codesMarkdown(cs []code) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.markdown()
	}
	return strings.Join(parts, "; ")
}

var timingText = map[ohx.Timing]string{
	ohx.TimingInstant:  "effectiveDateTime",
	ohx.TimingInterval: "effectivePeriod",
	ohx.TimingDaily:    "effectiveDateTime, the date only (measured during that night)",
}

// MappingTable renders the mapping of every data type of the ohx catalog as a
// Markdown table: resource, category, codes, UCUM unit, value shape, time
// shape and notes. Codes marked "(own)" are in the code system
// {BaseURI}:code (default urn:ohx:code). The README's mapping section is this
// output (see TestReadmeMappingTable).
func MappingTable() string {
	var b strings.Builder
	b.WriteString("| data type | resource | category | code(s) | UCUM unit | value | time | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, info := range ohx.DataTypes() {
		m, ok := tableIndex[info.Type]
		if !ok {
			b.WriteString("| `" + string(info.Type) + "` | **unmapped** | | | | | | |\n")
			continue
		}
		codes := codesMarkdown(m.Codes)
		if len(m.Components) > 0 {
			comps := make([]string, len(m.Components))
			for i, c := range m.Components {
				comps[i] = "`" + c.Component + "`: " + codesMarkdown(c.Codes)
			}
			codes += "; components " + strings.Join(comps, ", ")
		}
		if m.Day != nil {
			codes += "; a provider's day total (a sample of 23 to 25 h): " + codesMarkdown(m.Day.Codes) + " in `" + m.Day.Unit + "` (" + m.Day.UnitText + ")"
		}
		unit := info.Unit
		if unit == "" {
			unit = "per component"
		}
		note := m.Note
		if st := m.Statistic; st.Text != "" {
			note = strings.TrimPrefix(note+"; method: "+statisticMarkdown(st), "; ")
			for _, k := range providerStatisticKeys() {
				if ps := providerStatistic[k]; ps.Type == info.Type {
					note += "; " + k[0] + " `" + k[1] + "`: " + statisticMarkdown(ps.statistic)
				}
			}
		}
		if m.Profile != "" {
			note = strings.TrimPrefix(note+"; profile `"+strings.TrimPrefix(m.Profile, "http://hl7.org/fhir/StructureDefinition/")+"`", "; ")
		}
		timing := timingText[info.Timing]
		if m.Night != "" {
			timing = "effectivePeriod, the sleep period it was measured over, when the provider gives it (" + m.Night + "); else effectiveDateTime, the date only"
		}
		cells := []string{"`" + string(info.Type) + "`", m.Resource, m.Category, codes, "`" + unit + "`", m.Value, timing, note}
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\nVital signs (category `vital-signs`, LOINC-coded) claim the R5 profiles they meet in `meta.profile`: ")
	b.WriteString("`vitalsigns` and, where the code and unit hold, `heartrate`, `bp`, `bodyweight`, `bodytemp`, `oxygensat` or `resprate`. ")
	b.WriteString("Observations are `final`; `performer` is the patient for self-measured or self-entered data; ")
	b.WriteString("the provider's own name of the measurement (a Withings meastype or service/action/field, a Google Health data type, an Oura collection/field), when known, is a second coding in `{BaseURI}:{provider}:type`. ")
	b.WriteString("A nightly summary spans the sleep period when the provider gives it (Oura's HRV, resting heart rate and respiratory rate); one the provider dates by a day only has a date-only `effectiveDateTime`; both name their statistic in `method`.\n")
	b.WriteString("Hourly aggregates (from `aggregate/`): one Observation per link, type and hour with `effectivePeriod` ")
	b.WriteString("covering the hour, the type's code, the natural statistic as `valueQuantity` (mean for rates, sum for counts, named in `method`), ")
	b.WriteString("and only the other statistics that mean what they name, as components coded from ")
	b.WriteString("`http://terminology.hl7.org/CodeSystem/observation-statistics`: `minimum`, `maximum` and `count` for a mean, `count` for a sum; ")
	b.WriteString("the raw series, when kept, as a `valueSampledData` component; the `meta.tag` `{BaseURI}:tag#aggregate` tells them apart from measurements. ")
	b.WriteString("Heart rate variability is never aggregated, and a sample longer than an hour (a day total) is never put into one. ")
	b.WriteString("Values are rounded to the resolution of their type's sources (a mean to one decimal more); see docs/decisions.md.\n")
	b.WriteString("Devices: `Device` (R5 `name[]` registered-name, `displayName`, `modelNumber`, `type` the verified SNOMED CT concept of its kind ")
	b.WriteString("(19892000 scale, 258057004 non-invasive blood pressure monitor, 1187059002 smartphone; else 49062001 device) plus our device kind, ")
	b.WriteString("firmware as `version`, battery as `property`) and `DeviceAssociation` (status `attached` for what is worn, `unknown` for a device used but not worn; ")
	b.WriteString("`period.start` only from the provider's first use). ")
	b.WriteString("Each data type's hour of the link's zone gets one `Provenance` listing every resource of the hour (the heart rate of an ECG counts with the ECG); ")
	b.WriteString("its id follows from link, type and hour, and every read of the hour rewrites it with what the provider holds (a re-sync of unchanged data adds nothing), ")
	b.WriteString("with agents: the ohx software Device or a configured Organization (`assembler`), the devices that measured the data (`author`) and the provider (`custodian`), ")
	b.WriteString("and the provider's record ids as `source` entities.\n")
	return b.String()
}
