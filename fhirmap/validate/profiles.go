package validate

import "slices"

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

// profiles checks each vital-signs profile Observation i claims in
// meta.profile.
func (c *checker) profiles(i int32) {
	t := c.t
	meta := t.child(i, "meta")
	if meta < 0 || t.nodes[meta].kind != kindObject {
		return
	}
	claimed := t.child(meta, "profile")
	if claimed < 0 || t.nodes[claimed].kind != kindArray {
		return
	}
	base := false
	for p := t.nodes[claimed].first; p >= 0; p = t.nodes[p].next {
		if t.nodes[p].kind == kindString {
			url := t.v(p)
			_, specific := vitalProfiles[url]
			base = base || specific || url == ProfileVitalSigns // every specific profile derives from the base one
		}
	}
	if !base {
		return
	}
	c.vitalSigns(i)
	for p := t.nodes[claimed].first; p >= 0; p = t.nodes[p].next {
		if t.nodes[p].kind == kindString {
			url := t.v(p)
			if vp, ok := vitalProfiles[url]; ok {
				c.vitalProfile(i, url, vp)
			}
		}
	}
}

// vitalSigns checks the base profile: category vital-signs, subject (a
// Patient), effective[x] (a dateTime precise to the day at least, vs-1), a
// value or components (vs-2), component values (vs-3) in ucum-vitals-common,
// and a LOINC coding in code (the profile's extensible binding is the LOINC
// vital-sign result value set).
func (c *checker) vitalSigns(i int32) {
	const rule = "profile"
	t := c.t
	found := false
	for _, cat := range t.objects(i, "category") {
		for _, cd := range t.objects(cat, "coding") {
			sys, _ := t.str(cd, "system")
			code, _ := t.str(cd, "code")
			found = found || sys == observationCatSys && code == vitalSignsCategory
		}
	}
	if !found {
		c.add(i, ".category", rule, "vitalsigns: a category coding observation-category#vital-signs is required")
	}
	subj := t.object(i, "subject")
	ref, _ := t.str(subj, "reference")
	typ, _ := t.str(subj, "type")
	if subj < 0 || !(len(ref) > len("Patient/") && ref[:len("Patient/")] == "Patient/" || typ == "Patient") {
		c.add(i, ".subject", rule, "vitalsigns: subject must reference a Patient")
	}
	hasDT, toTheDay := t.dayPrecise(i, "effectiveDateTime")
	switch hasPeriod := t.object(i, "effectivePeriod") >= 0; {
	case !hasDT && !hasPeriod:
		c.add(i, ".effective[x]", rule, "vitalsigns: effectiveDateTime or effectivePeriod is required")
	case hasDT && !toTheDay:
		c.add(i, ".effectiveDateTime", "vs-1", "vitalsigns: effectiveDateTime must be precise to the day")
	}
	comps := 0
	for range t.objects(i, "component") {
		comps++
	}
	if comps == 0 && !t.has(i, "hasMember") && !c.hasValue(i) && !t.has(i, "dataAbsentReason") {
		c.add(i, "", "vs-2", "vitalsigns: without component or hasMember, a value[x] or dataAbsentReason is required")
	}
	for _, comp := range t.objects(i, "component") {
		if !c.hasValue(comp) && !t.has(comp, "dataAbsentReason") {
			c.add(comp, "", "vs-3", "vitalsigns: a component needs a value[x] or a dataAbsentReason")
		}
		if q := t.object(comp, "valueQuantity"); q >= 0 {
			sys, _ := t.str(q, "system")
			code, _ := t.str(q, "code")
			if sys != ucum || !ucumVitalsCommon[code] {
				c.add(q, "", rule, "vitalsigns: a component quantity must use a UCUM unit of ucum-vitals-common")
			}
		}
	}
	if !t.hasCoding(t.object(i, "code"), loinc, "") {
		c.add(i, ".code", rule, "vitalsigns: code needs a LOINC coding")
	}
}

// vitalProfile checks one specific profile: its fixed LOINC code and its
// value (or, for bp, its systolic and diastolic components).
func (c *checker) vitalProfile(i int32, url string, vp vitalProfile) {
	const rule = "profile"
	t := c.t
	name := url[len(profileBase):]
	if !t.hasCoding(t.object(i, "code"), loinc, vp.code) {
		c.add(i, ".code", rule, name+": code must have the LOINC coding "+vp.code)
	}
	if vp.components != nil {
		if t.has(i, "valueQuantity") {
			c.add(i, ".valueQuantity", rule, name+": valueQuantity is not allowed")
		}
		comps := 0
		for range t.objects(i, "component") {
			comps++
		}
		if comps < 2 {
			c.add(i, ".component", rule, name+": at least 2 components are required")
		}
		for _, want := range vp.components {
			found := false
			for _, comp := range t.objects(i, "component") {
				if t.hasCoding(t.object(comp, "code"), loinc, want.code) && t.completeQuantity(t.object(comp, "valueQuantity"), want.unit) {
					found = true
					break
				}
			}
			if !found {
				c.add(i, ".component", rule, name+": a component coded LOINC "+want.code+" with a valueQuantity in "+want.unit+" is required")
			}
		}
		return
	}
	switch q := t.object(i, "valueQuantity"); {
	case q >= 0 && !t.completeQuantity(q, vp.units...):
		c.add(i, ".valueQuantity", rule, name+": valueQuantity needs value, unit, system UCUM and a code of the profile's units")
	case q < 0 && c.hasValue(i):
		c.add(i, ".value[x]", rule, name+": the value must be a valueQuantity")
	}
}

// completeQuantity reports whether Quantity q (-1: none) has a value, a
// unit, system UCUM and one of the codes.
func (t *tree) completeQuantity(q int32, codes ...string) bool {
	if q < 0 {
		return false
	}
	unit, _ := t.str(q, "unit")
	sys, _ := t.str(q, "system")
	code, _ := t.str(q, "code")
	return t.has(q, "value") && unit != "" && sys == ucum && slices.Contains(codes, code)
}

// hasCoding reports whether CodeableConcept cc (-1: none) has a coding of
// system with the code (any code when code is empty).
func (t *tree) hasCoding(cc int32, system, code string) bool {
	if cc < 0 {
		return false
	}
	for _, cd := range t.objects(cc, "coding") {
		sys, _ := t.str(cd, "system")
		cdCode, _ := t.str(cd, "code")
		if sys == system && (code == "" || cdCode == code) {
			return true
		}
	}
	return false
}
