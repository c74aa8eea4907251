package validate

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Code sets of the required bindings the schema does not enumerate, from the
// R5 (5.0.0) value sets of the same names.
var (
	// http://hl7.org/fhir/ValueSet/observation-status
	observationStatus = set("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown")
	// http://hl7.org/fhir/ValueSet/diagnostic-report-status
	diagnosticReportStatus = set("registered", "partial", "preliminary", "modified", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown")
	// http://hl7.org/fhir/ValueSet/http-verb
	httpVerb = set("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
	// http://hl7.org/fhir/ValueSet/bundle-type
	bundleType = set("document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection", "subscription-notification")
	// http://hl7.org/fhir/ValueSet/device-nametype
	deviceNameType = set("registered-name", "user-friendly-name", "patient-reported-name")
	// http://hl7.org/fhir/ValueSet/device-status
	deviceStatus = set("active", "inactive", "entered-in-error")
	// http://hl7.org/fhir/ValueSet/deviceassociation-status
	deviceAssociationStatus = set("implanted", "explanted", "entered-in-error", "attached", "unknown")
	// http://hl7.org/fhir/ValueSet/observation-triggeredbytype
	triggeredByType = set("reflex", "repeat", "re-run")
	// http://hl7.org/fhir/ValueSet/issue-severity
	issueSeverity = set("fatal", "error", "warning", "information", "success")
	// http://hl7.org/fhir/ValueSet/issue-type
	issueType = set("invalid", "structure", "required", "value", "invariant", "security", "login", "unknown",
		"expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate", "multiple-matches",
		"not-found", "deleted", "too-long", "code-invalid", "extension", "too-costly", "business-rule", "conflict",
		"limited-filter", "transient", "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled",
		"informational", "success")
)

// DeviceAssociationStatusSystem is the code system of DeviceAssociation.status.
const DeviceAssociationStatusSystem = "http://hl7.org/fhir/deviceassociation-status"

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// uuidURN is the FHIR uuid datatype with the RFC 4122 (9562) version and
// variant bits: lower case, versions 1 to 8, variant 10xx.
var uuidURN = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// typedQuery is a search URL with its resource type, which ifNoneExist must not have.
var typedQuery = regexp.MustCompile(`^[A-Za-z]+\?`)

type refAt struct {
	path, ref string
}

type checker struct {
	r4         bool // check as FHIR R4 (checks_r4.go) instead of R5
	violations []Violation
	refs       []refAt // urn:uuid references seen, resolved by the enclosing Bundle
}

func (c *checker) add(path, rule, msg string) {
	c.violations = append(c.violations, Violation{Path: path, Rule: rule, Message: msg})
}

func (c *checker) resource(rt string, obj map[string]any) {
	c.walk(rt, obj)
}

// walk visits every value: it finds empty objects and arrays, checks urn:uuid
// syntax, records references and runs the checks of each (nested) resource.
func (c *checker) walk(path string, v any) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			c.add(path, "empty", "empty object is not allowed")
			return
		}
		rt, _ := v["resourceType"].(string)
		start := len(c.refs)
		if rt != "" {
			c.typed(rt, path, v)
		}
		for _, k := range sortedKeys(v) {
			child := v[k]
			p := path + "." + k
			if s, ok := child.(string); ok {
				if s == "" {
					c.add(p, "empty", "empty string is not allowed")
				}
				if strings.HasPrefix(s, "urn:uuid:") {
					if !uuidURN.MatchString(s) {
						c.add(p, "uuid", "urn:uuid is not a lower-case RFC 4122 UUID")
					} else if k == "reference" {
						c.refs = append(c.refs, refAt{path: p, ref: s})
					}
				}
				continue
			}
			c.walk(p, child)
		}
		if rt == "Bundle" {
			c.resolve(v, c.refs[start:])
			c.refs = c.refs[:start]
		}
	case string:
		if v == "" { // an array element: object members are checked above
			c.add(path, "empty", "empty string is not allowed")
		}
	case []any:
		if len(v) == 0 {
			c.add(path, "empty", "empty array is not allowed")
			return
		}
		for i, e := range v {
			c.walk(path+"["+strconv.Itoa(i)+"]", e)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *checker) typed(rt, path string, m map[string]any) {
	if c.r4 {
		c.typedR4(rt, path, m)
		return
	}
	switch rt {
	case "Observation":
		c.observation(path, m)
	case "DiagnosticReport":
		c.requiredCode(path, m, "status", diagnosticReportStatus, "diagnostic-report-status")
	case "Device":
		c.device(path, m)
	case "DeviceAssociation":
		c.deviceAssociation(path, m)
	case "Bundle":
		c.bundle(path, m)
	case "Provenance":
		for i, a := range objects(m["agent"]) {
			if a["who"] == nil {
				c.add(path+".agent["+strconv.Itoa(i)+"].who", "required", "agent.who is required")
			}
		}
	case "OperationOutcome":
		for i, is := range objects(m["issue"]) {
			p := path + ".issue[" + strconv.Itoa(i) + "]"
			c.requiredCode(p, is, "severity", issueSeverity, "issue-severity")
			c.requiredCode(p, is, "code", issueType, "issue-type")
		}
	}
}

// requiredCode checks a 1..1 code element against its required value set.
func (c *checker) requiredCode(path string, m map[string]any, key string, allowed map[string]bool, valueSet string) {
	v, ok := m[key]
	if !ok {
		c.add(path+"."+key, "required", key+" is required")
		return
	}
	c.optionalCode(path, m, key, allowed, valueSet, v)
}

func (c *checker) optionalCode(path string, m map[string]any, key string, allowed map[string]bool, valueSet string, v any) {
	if v == nil {
		return
	}
	s, ok := v.(string)
	if !ok || !allowed[s] {
		c.add(path+"."+key, "code", key+" is not a code of the required value set "+valueSet)
	}
}

func objects(v any) []map[string]any {
	arr, _ := v.([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// hasValue reports whether an Observation or component has a value[x].
func hasValue(m map[string]any) bool {
	for k := range m {
		if len(k) > 5 && strings.HasPrefix(k, "value") && k[5] >= 'A' && k[5] <= 'Z' {
			return true
		}
		if len(k) > 6 && strings.HasPrefix(k, "_value") {
			return true
		}
	}
	return false
}

func (c *checker) observation(path string, m map[string]any) {
	c.requiredCode(path, m, "status", observationStatus, "observation-status")
	c.profiles(path, m)
	if m["code"] == nil {
		c.add(path+".code", "required", "code is required")
	}
	if m["dataAbsentReason"] != nil && hasValue(m) {
		c.add(path+".dataAbsentReason", "obs-6", "dataAbsentReason must only be present when value[x] is absent")
	}
	if sd, ok := m["valueSampledData"].(map[string]any); ok {
		c.sampledData(path+".valueSampledData", sd)
	}
	own := codings(m["code"])
	for i, comp := range objects(m["component"]) {
		p := path + ".component[" + strconv.Itoa(i) + "]"
		if comp["dataAbsentReason"] != nil && hasValue(comp) {
			c.add(p+".dataAbsentReason", "obs-6", "dataAbsentReason must only be present when value[x] is absent")
		}
		if sd, ok := comp["valueSampledData"].(map[string]any); ok {
			c.sampledData(p+".valueSampledData", sd)
		}
		if hasValue(m) && intersects(own, codings(comp["code"])) {
			c.add(p+".code", "obs-7", "a component with the Observation's own code requires Observation.value[x] to be absent")
		}
	}
	for i, tb := range objects(m["triggeredBy"]) {
		p := path + ".triggeredBy[" + strconv.Itoa(i) + "]"
		c.requiredCode(p, tb, "type", triggeredByType, "observation-triggeredbytype")
		if tb["observation"] == nil {
			c.add(p+".observation", "required", "observation is required")
		}
	}
}

func codings(cc any) []string {
	m, _ := cc.(map[string]any)
	var out []string
	for _, cd := range objects(m["coding"]) {
		sys, _ := cd["system"].(string)
		code, _ := cd["code"].(string)
		if code != "" {
			out = append(out, sys+"|"+code)
		}
	}
	return out
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func (c *checker) sampledData(path string, m map[string]any) {
	if m["origin"] == nil {
		c.add(path+".origin", "required", "origin is required")
	}
	if s, ok := m["intervalUnit"].(string); !ok || s == "" {
		c.add(path+".intervalUnit", "required", "intervalUnit is required (R5)")
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
	interval := m["interval"] != nil || m["_interval"] != nil
	offsets := m["offsets"] != nil || m["_offsets"] != nil
	if interval == offsets {
		c.add(path, "sdd-1", "exactly one of interval or offsets must be present")
	}
}

func (c *checker) device(path string, m map[string]any) {
	c.optionalCode(path, m, "status", deviceStatus, "device-status", m["status"])
	displays := 0
	for i, n := range objects(m["name"]) {
		p := path + ".name[" + strconv.Itoa(i) + "]"
		if s, ok := n["value"].(string); !ok || s == "" {
			c.add(p+".value", "required", "value is required")
		}
		c.requiredCode(p, n, "type", deviceNameType, "device-nametype")
		if b, ok := n["display"].(bool); ok && b {
			displays++
		}
	}
	if displays > 1 {
		c.add(path+".name", "dev-1", "at most one name may have display = true")
	}
	for i, v := range objects(m["version"]) {
		if v["value"] == nil {
			c.add(path+".version["+strconv.Itoa(i)+"].value", "required", "value is required")
		}
	}
	for i, pr := range objects(m["property"]) {
		n := 0
		for k := range pr {
			if strings.HasPrefix(k, "value") {
				n++
			}
		}
		if n != 1 {
			c.add(path+".property["+strconv.Itoa(i)+"]", "required", "property needs exactly one value[x]")
		}
	}
}

func (c *checker) deviceAssociation(path string, m map[string]any) {
	if m["device"] == nil {
		c.add(path+".device", "required", "device is required")
	}
	st, ok := m["status"].(map[string]any)
	if !ok {
		c.add(path+".status", "required", "status is required and must be a CodeableConcept")
		return
	}
	found := false
	for i, cd := range objects(st["coding"]) {
		if sys, _ := cd["system"].(string); sys != DeviceAssociationStatusSystem {
			continue
		}
		code, _ := cd["code"].(string)
		if !deviceAssociationStatus[code] {
			c.add(path+".status.coding["+strconv.Itoa(i)+"].code", "code", "code is not in the required value set deviceassociation-status")
			continue
		}
		found = true
	}
	if !found {
		c.add(path+".status", "code", "status needs a coding from "+DeviceAssociationStatusSystem)
	}
}

func (c *checker) bundle(path string, m map[string]any) {
	c.requiredCode(path, m, "type", bundleType, "bundle-type")
	typ, _ := m["type"].(string)
	txn := typ == "transaction" || typ == "batch"
	seen := map[string]int{}
	for i, e := range objects(m["entry"]) {
		p := path + ".entry[" + strconv.Itoa(i) + "]"
		if fu, ok := e["fullUrl"].(string); ok && typ != "history" {
			key := fu
			if r, ok := e["resource"].(map[string]any); ok {
				if meta, ok := r["meta"].(map[string]any); ok {
					if vid, ok := meta["versionId"].(string); ok {
						key += "|" + vid
					}
				}
			}
			if j, dup := seen[key]; dup {
				c.add(p+".fullUrl", "bdl-7", "fullUrl repeats the fullUrl of entry["+strconv.Itoa(j)+"]")
			} else {
				seen[key] = i
			}
		}
		req, hasReq := e["request"].(map[string]any)
		if hasReq {
			c.request(p+".request", req)
		}
		if txn {
			if !hasReq {
				c.add(p+".request", "bdl-3c", "every "+typ+" entry needs a request")
				continue
			}
			method, _ := req["method"].(string)
			withBody := method == "POST" || method == "PUT" || method == "PATCH"
			_, hasRes := e["resource"]
			switch {
			case withBody && !hasRes:
				c.add(p+".resource", "bdl-3c", "a "+method+" entry needs a resource")
			case !withBody && hasRes && httpVerb[method]:
				c.add(p+".resource", "bdl-3c", "a "+method+" entry must not carry a resource")
			}
		}
		if resp, ok := e["response"].(map[string]any); ok {
			if s, ok := resp["status"].(string); !ok || s == "" {
				c.add(p+".response.status", "required", "status is required")
			}
		}
	}
}

func (c *checker) request(path string, req map[string]any) {
	c.requiredCode(path, req, "method", httpVerb, "http-verb")
	if s, ok := req["url"].(string); !ok || s == "" {
		c.add(path+".url", "required", "url is required")
	}
	if s, ok := req["ifNoneExist"].(string); ok {
		if typedQuery.MatchString(s) || strings.HasPrefix(s, "?") {
			c.add(path+".ifNoneExist", "value", "ifNoneExist must be the bare query, without \"Type?\"")
		}
	}
}

// resolve checks that every urn:uuid reference inside a bundle names the
// fullUrl of one of its entries.
func (c *checker) resolve(bundle map[string]any, refs []refAt) {
	full := map[string]bool{}
	for _, e := range objects(bundle["entry"]) {
		if fu, ok := e["fullUrl"].(string); ok {
			full[fu] = true
		}
	}
	for _, r := range refs {
		if !full[r.ref] {
			c.add(r.path, "reference", "urn:uuid reference does not resolve to an entry fullUrl of the bundle")
		}
	}
}
