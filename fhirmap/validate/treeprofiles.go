package validate

import "slices"

// The vital-signs profile checks of profiles.go on the parsed tree: the fast
// path runs them on every Observation that claims a profile, with no second
// decoding of the document and no allocation unless a violation is found.

// profiles checks each vital-signs profile Observation i claims in
// meta.profile.
func (c *treeChecker) profiles(i int32) {
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
		if n := &t.nodes[p]; n.kind == kindString {
			_, specific := vitalProfiles[n.val]
			base = base || specific || n.val == ProfileVitalSigns // every specific profile derives from the base one
		}
	}
	if !base {
		return
	}
	c.vitalSigns(i)
	for p := t.nodes[claimed].first; p >= 0; p = t.nodes[p].next {
		if n := &t.nodes[p]; n.kind == kindString {
			if vp, ok := vitalProfiles[n.val]; ok {
				c.vitalProfile(i, n.val, vp)
			}
		}
	}
}

// object returns member key of object i when it is an object, or -1.
func (t *tree) object(i int32, key string) int32 {
	c := t.child(i, key)
	if c < 0 || t.nodes[c].kind != kindObject {
		return -1
	}
	return c
}

// vitalSigns checks the base profile (see checker.vitalSigns).
func (c *treeChecker) vitalSigns(i int32) {
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
	dt, hasDT := t.str(i, "effectiveDateTime")
	switch hasPeriod := t.object(i, "effectivePeriod") >= 0; {
	case !hasDT && !hasPeriod:
		c.add(i, ".effective[x]", rule, "vitalsigns: effectiveDateTime or effectivePeriod is required")
	case hasDT && len(dt) < 8:
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

// vitalProfile checks one specific profile (see checker.vitalProfile).
func (c *treeChecker) vitalProfile(i int32, url string, vp vitalProfile) {
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
