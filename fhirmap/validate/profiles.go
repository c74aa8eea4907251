package validate

import (
	"slices"
	"strconv"
)

// Checks of the R5 vital-signs profiles an Observation claims in
// meta.profile (hl7.fhir.r5.core 5.0.0, StructureDefinition-{vitalsigns,
// heartrate,bp,bodyweight,bodytemp,oxygensat,resprate}). A claimed profile
// that the resource does not meet is a violation with rule "profile"; a
// profile this package does not know is not checked.
// TestProfileFactsMatchStructureDefinitions checks these facts against the
// StructureDefinitions in testdata/profiles-r5.

// Profile URLs.
const (
	ProfileVitalSigns = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	ProfileHeartRate  = "http://hl7.org/fhir/StructureDefinition/heartrate"
	ProfileBP         = "http://hl7.org/fhir/StructureDefinition/bp"
	ProfileBodyWeight = "http://hl7.org/fhir/StructureDefinition/bodyweight"
	ProfileBodyTemp   = "http://hl7.org/fhir/StructureDefinition/bodytemp"
	ProfileOxygenSat  = "http://hl7.org/fhir/StructureDefinition/oxygensat"
	ProfileRespRate   = "http://hl7.org/fhir/StructureDefinition/resprate"
)

const (
	loinc              = "http://loinc.org"
	ucum               = "http://unitsofmeasure.org"
	observationCatSys  = "http://terminology.hl7.org/CodeSystem/observation-category"
	vitalSignsCategory = "vital-signs"
)

// profileBase prefixes the URLs of the R5 core profiles.
const profileBase = "http://hl7.org/fhir/StructureDefinition/"

// vitalProfile is what one specific vital-signs profile adds to the base
// profile: a fixed LOINC code in Observation.code and, for a valueQuantity,
// its allowed UCUM codes (a fixedCode or the codes of a required value set).
type vitalProfile struct {
	code  string
	units []string
	// components are the required component slices (bp): LOINC code and the
	// fixed unit of its valueQuantity; the Observation has no value.
	components []vitalComponent
}

// vitalComponent is a required component slice: its LOINC code and the
// fixed UCUM code of its valueQuantity.
type vitalComponent struct{ code, unit string }

var vitalProfiles = map[string]vitalProfile{
	ProfileHeartRate: {code: "8867-4", units: []string{"/min"}},
	ProfileRespRate:  {code: "9279-1", units: []string{"/min"}},
	ProfileOxygenSat: {code: "2708-6", units: []string{"%"}},
	// http://hl7.org/fhir/ValueSet/ucum-bodyweight: "g | kg | [lb_av]".
	ProfileBodyWeight: {code: "29463-7", units: []string{"g", "kg", "[lb_av]"}},
	// http://hl7.org/fhir/ValueSet/ucum-bodytemp: "Cel | [degF]".
	ProfileBodyTemp: {code: "8310-5", units: []string{"Cel", "[degF]"}},
	ProfileBP:       {code: "85354-9", components: []vitalComponent{{"8480-6", "mm[Hg]"}, {"8462-4", "mm[Hg]"}}},
}

// ucumVitalsCommon is http://hl7.org/fhir/ValueSet/ucum-vitals-common as
// published with R4 (4.0.1) and R5, the required binding of a vital-signs
// component's valueQuantity.
var ucumVitalsCommon = set("%", "cm", "[in_i]", "kg", "g", "[lb_av]", "Cel", "[degF]", "mm[Hg]", "/min", "kg/m2", "m2")

// profiles checks each vital-signs profile m claims.
func (c *checker) profiles(path string, m map[string]any) {
	meta, _ := m["meta"].(map[string]any)
	claimed, _ := meta["profile"].([]any)
	base := false
	for _, p := range claimed {
		url, _ := p.(string)
		if url == ProfileVitalSigns {
			base = true
		}
		if _, ok := vitalProfiles[url]; ok {
			base = true // every specific profile derives from the base one
		}
	}
	if !base {
		return
	}
	c.vitalSigns(path, m)
	for _, p := range claimed {
		url, _ := p.(string)
		if vp, ok := vitalProfiles[url]; ok {
			c.vitalProfile(path, url, vp, m)
		}
	}
}

// vitalSigns checks the base profile: category vital-signs, subject (a
// Patient), effective[x] (a dateTime precise to the day at least, vs-1), a
// value or components (vs-2), component values (vs-3) in ucum-vitals-common,
// and a LOINC coding in code (the profile's extensible binding is the LOINC
// vital-sign result value set).
func (c *checker) vitalSigns(path string, m map[string]any) {
	const rule = "profile"
	found := false
	for _, cat := range objects(m["category"]) {
		for _, cd := range objects(cat["coding"]) {
			if cd["system"] == observationCatSys && cd["code"] == vitalSignsCategory {
				found = true
			}
		}
	}
	if !found {
		c.add(path+".category", rule, "vitalsigns: a category coding observation-category#vital-signs is required")
	}
	subj, _ := m["subject"].(map[string]any)
	ref, _ := subj["reference"].(string)
	typ, _ := subj["type"].(string)
	if subj == nil || !(len(ref) > len("Patient/") && ref[:len("Patient/")] == "Patient/" || typ == "Patient") {
		c.add(path+".subject", rule, "vitalsigns: subject must reference a Patient")
	}
	dt, hasDT := m["effectiveDateTime"].(string)
	_, hasPeriod := m["effectivePeriod"].(map[string]any)
	switch {
	case !hasDT && !hasPeriod:
		c.add(path+".effective[x]", rule, "vitalsigns: effectiveDateTime or effectivePeriod is required")
	case hasDT && len(dt) < 8:
		c.add(path+".effectiveDateTime", "vs-1", "vitalsigns: effectiveDateTime must be precise to the day")
	}
	comps := objects(m["component"])
	if len(comps) == 0 && m["hasMember"] == nil && !hasValue(m) && m["dataAbsentReason"] == nil {
		c.add(path, "vs-2", "vitalsigns: without component or hasMember, a value[x] or dataAbsentReason is required")
	}
	for i, comp := range comps {
		p := path + ".component[" + strconv.Itoa(i) + "]"
		if !hasValue(comp) && comp["dataAbsentReason"] == nil {
			c.add(p, "vs-3", "vitalsigns: a component needs a value[x] or a dataAbsentReason")
		}
		if q, ok := comp["valueQuantity"].(map[string]any); ok {
			code, _ := q["code"].(string)
			if q["system"] != ucum || !ucumVitalsCommon[code] {
				c.add(p+".valueQuantity", rule, "vitalsigns: a component quantity must use a UCUM unit of ucum-vitals-common")
			}
		}
	}
	if !hasCoding(m["code"], loinc, "") {
		c.add(path+".code", rule, "vitalsigns: code needs a LOINC coding")
	}
}

// vitalProfile checks one specific profile: its fixed LOINC code and its
// value (or, for bp, its systolic and diastolic components).
func (c *checker) vitalProfile(path, url string, vp vitalProfile, m map[string]any) {
	const rule = "profile"
	name := url[len("http://hl7.org/fhir/StructureDefinition/"):]
	if !hasCoding(m["code"], loinc, vp.code) {
		c.add(path+".code", rule, name+": code must have the LOINC coding "+vp.code)
	}
	if vp.components != nil {
		if m["valueQuantity"] != nil {
			c.add(path+".valueQuantity", rule, name+": valueQuantity is not allowed")
		}
		comps := objects(m["component"])
		if len(comps) < 2 {
			c.add(path+".component", rule, name+": at least 2 components are required")
		}
		for _, want := range vp.components {
			ok := slices.ContainsFunc(comps, func(comp map[string]any) bool {
				q, _ := comp["valueQuantity"].(map[string]any)
				return hasCoding(comp["code"], loinc, want.code) && completeQuantity(q, []string{want.unit})
			})
			if !ok {
				c.add(path+".component", rule, name+": a component coded LOINC "+want.code+" with a valueQuantity in "+want.unit+" is required")
			}
		}
		return
	}
	q, isQ := m["valueQuantity"].(map[string]any)
	switch {
	case isQ && !completeQuantity(q, vp.units):
		c.add(path+".valueQuantity", rule, name+": valueQuantity needs value, unit, system UCUM and a code of the profile's units")
	case !isQ && hasValue(m):
		c.add(path+".value[x]", rule, name+": the value must be a valueQuantity")
	}
}

func completeQuantity(q map[string]any, units []string) bool {
	if q == nil {
		return false
	}
	unit, _ := q["unit"].(string)
	code, _ := q["code"].(string)
	return q["value"] != nil && unit != "" && q["system"] == ucum && slices.Contains(units, code)
}

// hasCoding reports whether a CodeableConcept has a coding of system with
// the code (any code when code is empty).
func hasCoding(cc any, system, code string) bool {
	m, _ := cc.(map[string]any)
	for _, cd := range objects(m["coding"]) {
		if cd["system"] == system && (code == "" || cd["code"] == code) {
			return true
		}
	}
	return false
}
