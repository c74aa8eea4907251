package validate

import (
	"encoding/json"
	"strconv"
)

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

// typedR4 runs the checks of one (nested) R4 resource: the required
// primitives and codes the schema does not see, and the invariants obs-6 and
// obs-7. The bundle rules (bdl-3c, bdl-7, requests, references) and the
// OperationOutcome codes are those of R5, which R4 shares.
func (c *checker) typedR4(rt, path string, m map[string]any) {
	switch rt {
	case "Observation":
		c.observationR4(path, m)
	case "DiagnosticReport":
		c.requiredCode(path, m, "status", diagnosticReportStatusR4, "diagnostic-report-status")
		if m["code"] == nil {
			c.add(path+".code", "required", "code is required")
		}
	case "Device":
		c.deviceR4(path, m)
	case "Provenance":
		c.provenanceR4(path, m)
	case "Bundle":
		// The R5 bundle-type set includes R4's; the R4 schema rejects R5's
		// subscription-notification.
		c.bundle(path, m)
	case "OperationOutcome":
		for i, is := range objects(m["issue"]) {
			p := path + ".issue[" + strconv.Itoa(i) + "]"
			c.requiredCode(p, is, "severity", issueSeverity, "issue-severity")
			c.requiredCode(p, is, "code", issueType, "issue-type")
		}
	}
}

func (c *checker) observationR4(path string, m map[string]any) {
	c.requiredCode(path, m, "status", observationStatus, "observation-status")
	if m["code"] == nil {
		c.add(path+".code", "required", "code is required")
	}
	if m["dataAbsentReason"] != nil && hasValue(m) {
		c.add(path+".dataAbsentReason", "obs-6", "dataAbsentReason must only be present when value[x] is absent")
	}
	if sd, ok := m["valueSampledData"].(map[string]any); ok {
		c.sampledDataR4(path+".valueSampledData", sd)
	}
	own := codings(m["code"])
	for i, comp := range objects(m["component"]) {
		p := path + ".component[" + strconv.Itoa(i) + "]"
		if comp["dataAbsentReason"] != nil && hasValue(comp) {
			c.add(p+".dataAbsentReason", "obs-6", "dataAbsentReason must only be present when value[x] is absent")
		}
		if sd, ok := comp["valueSampledData"].(map[string]any); ok {
			c.sampledDataR4(p+".valueSampledData", sd)
		}
		if hasValue(m) && intersects(own, codings(comp["code"])) {
			c.add(p+".code", "obs-7", "a component with the Observation's own code requires Observation.value[x] to be absent")
		}
	}
}

// sampledDataR4 checks R4 SampledData: origin, period (ms between samples)
// and dimensions are required (R4 has no interval, intervalUnit or offsets;
// the schema rejects those).
func (c *checker) sampledDataR4(path string, m map[string]any) {
	if m["origin"] == nil {
		c.add(path+".origin", "required", "origin is required")
	}
	switch p := m["period"].(type) {
	case nil:
		c.add(path+".period", "required", "period is required (R4)")
	case json.Number:
		if f, err := p.Float64(); err != nil || f < 0 {
			c.add(path+".period", "value", "period must be a non-negative number of milliseconds")
		}
	}
	switch d := m["dimensions"].(type) {
	case nil:
		c.add(path+".dimensions", "required", "dimensions is required")
	case json.Number:
		if n, err := strconv.ParseInt(string(d), 10, 64); err != nil || n < 1 {
			c.add(path+".dimensions", "value", "dimensions must be a positive integer")
		}
	default:
		c.add(path+".dimensions", "value", "dimensions must be a positive integer")
	}
}

func (c *checker) deviceR4(path string, m map[string]any) {
	c.optionalCode(path, m, "status", deviceStatusR4, "device-status", m["status"])
	// The R4 schema types Device.type as a CodeableConcept without saying
	// it is an object, so the R5 array passes it.
	if _, ok := m["type"].([]any); ok {
		c.add(path+".type", "cardinality", "type is a single CodeableConcept in R4 (0..1), not an array")
	}
	for i, n := range objects(m["deviceName"]) {
		p := path + ".deviceName[" + strconv.Itoa(i) + "]"
		if s, ok := n["name"].(string); !ok || s == "" {
			c.add(p+".name", "required", "name is required")
		}
		c.requiredCode(p, n, "type", deviceNameTypeR4, "device-nametype")
	}
	for i, v := range objects(m["version"]) {
		if v["value"] == nil {
			c.add(path+".version["+strconv.Itoa(i)+"].value", "required", "value is required")
		}
	}
	for i, pr := range objects(m["property"]) {
		if pr["type"] == nil {
			c.add(path+".property["+strconv.Itoa(i)+"].type", "required", "type is required")
		}
	}
}

func (c *checker) provenanceR4(path string, m map[string]any) {
	if s, ok := m["recorded"].(string); !ok || s == "" {
		c.add(path+".recorded", "required", "recorded is required (R4)")
	}
	for i, a := range objects(m["agent"]) {
		if a["who"] == nil {
			c.add(path+".agent["+strconv.Itoa(i)+"].who", "required", "agent.who is required")
		}
	}
	for i, e := range objects(m["entity"]) {
		p := path + ".entity[" + strconv.Itoa(i) + "]"
		c.requiredCode(p, e, "role", provenanceEntityRoleR4, "provenance-entity-role")
		if e["what"] == nil {
			c.add(p+".what", "required", "what is required")
		}
	}
}
