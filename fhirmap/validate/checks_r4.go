package validate

import "strconv"

// Code sets of the FHIR R4 (4.0.1) required bindings the Go checks use. The
// R4 schema enumerates these codes too; the Go checks repeat them so that a
// missing code (a required primitive the schema cannot see) and a wrong one
// are reported the same way.
var (
	// http://hl7.org/fhir/R4/valueset-diagnostic-report-status.html (no R5 "modified")
	diagnosticReportStatusR4 = set("registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown")
	// http://hl7.org/fhir/R4/valueset-device-nametype.html
	deviceNameTypeR4 = set("udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name", "model-name", "other")
	// http://hl7.org/fhir/R4/valueset-device-status.html (R4 keeps "unknown")
	deviceStatusR4 = set("active", "inactive", "entered-in-error", "unknown")
	// http://hl7.org/fhir/R4/valueset-provenance-entity-role.html
	provenanceEntityRoleR4 = set("derivation", "revision", "quotation", "source", "removal")
)

// The R4 checks of checker (r4 set): the required primitives and codes the
// R4 schema does not see. Observation (obs-6, obs-7, SampledData origin and
// dimensions), the bundle rules (bdl-3c, bdl-7, requests, references) and
// the OperationOutcome codes are those of R5 (checks.go), which R4 shares.

func (c *checker) diagnosticReportR4(i int32) {
	c.requiredCode(i, "status", diagnosticReportStatusR4, "diagnostic-report-status")
	if !c.t.has(i, "code") {
		c.add(i, ".code", "required", "code is required")
	}
}

// periodR4 checks R4 SampledData.period: required, a non-negative number of
// milliseconds between samples.
func (c *checker) periodR4(i int32) {
	t := c.t
	switch p := t.child(i, "period"); {
	case p < 0 || t.nodes[p].kind == kindNull:
		c.add(i, ".period", "required", "period is required (R4)")
	case t.nodes[p].kind == kindNumber:
		if f, err := strconv.ParseFloat(t.v(p), 64); err != nil || f < 0 {
			c.add(i, ".period", "value", "period must be a non-negative number of milliseconds")
		}
	}
}

func (c *checker) deviceR4(i int32) {
	t := c.t
	c.optionalCode(i, "status", deviceStatusR4, "device-status")
	// The R4 schema types Device.type as a CodeableConcept without saying
	// it is an object, so the R5 array passes it.
	if ty := t.child(i, "type"); ty >= 0 && t.nodes[ty].kind == kindArray {
		c.add(i, ".type", "cardinality", "type is a single CodeableConcept in R4 (0..1), not an array")
	}
	for _, n := range t.objects(i, "deviceName") {
		if s, ok := t.str(n, "name"); !ok || s == "" {
			c.add(n, ".name", "required", "name is required")
		}
		c.requiredCode(n, "type", deviceNameTypeR4, "device-nametype")
	}
	c.deviceVersions(i)
	for _, pr := range t.objects(i, "property") {
		if !t.has(pr, "type") {
			c.add(pr, ".type", "required", "type is required")
		}
	}
}

// provenanceR4 checks what R4 requires of a Provenance before its agents.
func (c *checker) provenanceR4(i int32) {
	if s, ok := c.t.str(i, "recorded"); !ok || s == "" {
		c.add(i, ".recorded", "required", "recorded is required (R4)")
	}
}

// provenanceEntitiesR4 checks the R4 Provenance.entity: role and what.
func (c *checker) provenanceEntitiesR4(i int32) {
	for _, e := range c.t.objects(i, "entity") {
		c.requiredCode(e, "role", provenanceEntityRoleR4, "provenance-entity-role")
		if !c.t.has(e, "what") {
			c.add(e, ".what", "required", "what is required")
		}
	}
}
