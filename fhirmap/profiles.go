package fhirmap

import (
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// What ohx claims in meta.profile. The facts come from the R5 vital-signs
// StructureDefinitions (hl7.fhir.r5.core 5.0.0): the base profile requires
// the vital-signs category, a subject, an effective time, a value or
// components (vs-2), component values (vs-3) in the ucum-vitals-common units;
// each specific profile fixes one LOINC code and the value's UCUM unit(s).
// The claim is computed from the finished Observation, so a resource claims a
// profile only when it meets it; fhirmap/validate checks every claim
// independently, from the same StructureDefinitions.

// profileFacts are a specific profile's fixed LOINC code and allowed
// valueQuantity units (none for bp, which has no value).
type profileFacts struct {
	code  string
	units []string
}

var vitalProfiles = map[string]profileFacts{
	ProfileR5HeartRate:  {"8867-4", []string{"/min"}},
	ProfileR5RespRate:   {"9279-1", []string{"/min"}},
	ProfileR5OxygenSat:  {"2708-6", []string{"%"}},
	ProfileR5BodyWeight: {"29463-7", []string{"g", "kg", "[lb_av]"}},
	ProfileR5BodyTemp:   {"8310-5", []string{"Cel", "[degF]"}},
	ProfileR5BP:         {"85354-9", nil},
}

// vitalsUnits is http://hl7.org/fhir/ValueSet/ucum-vitals-common (R4/R5),
// the required binding of a vital-signs component's valueQuantity.
var vitalsUnits = map[string]bool{
	"%": true, "cm": true, "[in_i]": true, "kg": true, "g": true, "[lb_av]": true, "Cel": true, "[degF]": true,
	"mm[Hg]": true, "/min": true, "kg/m2": true, "m2": true,
}

// claimProfiles returns the profiles o meets: none outside the vital-signs
// category; the base profile; and the type's own profile when its code and
// unit hold.
func claimProfiles(o *r5.Observation, m *mapping) []string {
	if m.Category != catVitalSigns || !meetsVitalSigns(o) {
		return nil
	}
	claims := []string{ProfileR5VitalSigns}
	if f, ok := vitalProfiles[m.Profile]; ok && hasCoding(o.Code, SystemLOINC, f.code) && meetsSpecific(o, m.Profile, f) {
		claims = append(claims, m.Profile)
	}
	return claims
}

func meetsVitalSigns(o *r5.Observation) bool {
	if o.Subject == nil || str(o.Subject.Reference) == "" || (o.EffectiveDateTime == nil && o.EffectivePeriod == nil) {
		return false
	}
	if !hasSystem(o.Code, SystemLOINC) {
		return false
	}
	hasValue := o.ValueQuantity != nil || o.ValueInteger != nil || o.ValueSampledData != nil || o.ValueString != nil ||
		o.ValueCodeableConcept != nil || o.ValuePeriod != nil
	if len(o.Component) == 0 && len(o.HasMember) == 0 && !hasValue && o.DataAbsentReason == nil {
		return false // vs-2
	}
	for _, c := range o.Component {
		cv := c.ValueQuantity != nil || c.ValueInteger != nil || c.ValueSampledData != nil || c.ValueString != nil || c.ValueCodeableConcept != nil
		if !cv && c.DataAbsentReason == nil {
			return false // vs-3
		}
		if c.ValueQuantity != nil && !vitalsUnits[str(c.ValueQuantity.Code)] {
			return false // required binding ucum-vitals-common
		}
	}
	return true
}

func meetsSpecific(o *r5.Observation, profile string, f profileFacts) bool {
	if profile == ProfileR5BP {
		if o.ValueQuantity != nil {
			return false
		}
		return component(o, cSystolic.Code, "mm[Hg]") && component(o, cDiastolic.Code, "mm[Hg]")
	}
	q := o.ValueQuantity
	if q == nil || q.Value == nil || str(q.Unit) == "" || str(q.System) != SystemUCUM {
		return false
	}
	for _, u := range f.units {
		if str(q.Code) == u {
			return true
		}
	}
	return false
}

// component reports whether o has a component coded LOINC code with a
// complete UCUM quantity in unit.
func component(o *r5.Observation, code, unit string) bool {
	for _, c := range o.Component {
		q := c.ValueQuantity
		if hasCoding(c.Code, SystemLOINC, code) && q != nil && q.Value != nil && str(q.Unit) != "" &&
			str(q.System) == SystemUCUM && str(q.Code) == unit {
			return true
		}
	}
	return false
}

func hasCoding(cc r5.CodeableConcept, system, code string) bool {
	for _, c := range cc.Coding {
		if str(c.System) == system && str(c.Code) == code {
			return true
		}
	}
	return false
}

func hasSystem(cc r5.CodeableConcept, system string) bool {
	for _, c := range cc.Coding {
		if str(c.System) == system {
			return true
		}
	}
	return false
}
