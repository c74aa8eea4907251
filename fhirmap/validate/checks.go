package validate

import (
	"regexp"
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

// typedQuery is a search URL with its resource type, which ifNoneExist must not have.
var typedQuery = regexp.MustCompile(`^[A-Za-z]+\?`)

type refAt struct {
	node int32
	ref  string
}

// checker runs the Go checks on a parsed document, as FHIR R5 or, with r4,
// as FHIR R4 (checks_r4.go). The fast path and the full schema run both use
// it; its working memory (refs, seen, full) is reused from one document to
// the next.
type checker struct {
	t          *tree
	root       string // the root's name in paths: its resourceType
	r4         bool
	violations []Violation
	refs       []refAt         // urn:uuid references seen, resolved by the enclosing Bundle
	seen       map[string]int  // bdl-7: fullUrl (and versionId) → entry
	full       map[string]bool // the fullUrls of a bundle's entries
}

// add records a violation at node i, with suffix appended to its path (for
// elements that are missing, suffix names them: ".status").
func (c *checker) add(i int32, suffix, rule, msg string) {
	c.violations = append(c.violations, Violation{Path: c.t.path(i, c.root) + suffix, Rule: rule, Message: msg})
}

// walk visits every value in document order: it finds empty objects and
// arrays, checks urn:uuid syntax, records references and runs the checks of
// each (nested) resource.
func (c *checker) walk(i int32) {
	t := c.t
	n := &t.nodes[i]
	switch n.kind {
	case kindObject:
		if n.n == 0 {
			c.add(i, "", "empty", "empty object is not allowed")
			return
		}
		rt, _ := t.resourceType(i)
		start := len(c.refs)
		if rt != "" {
			c.typed(rt, i)
		}
		for ch := n.first; ch >= 0; ch = t.nodes[ch].next {
			cn := &t.nodes[ch]
			if cn.kind == kindString {
				if cn.val == "" {
					c.add(ch, "", "empty", "empty string is not allowed")
				}
				if strings.HasPrefix(cn.val, "urn:uuid:") {
					if !isUUIDURN(cn.val) {
						c.add(ch, "", "uuid", "urn:uuid is not a lower-case RFC 4122 UUID")
					} else if cn.key == "reference" {
						c.refs = append(c.refs, refAt{node: ch, ref: cn.val})
					}
				}
				continue
			}
			c.walk(ch)
		}
		if rt == "Bundle" {
			c.resolve(i, c.refs[start:])
			c.refs = c.refs[:start]
		}
	case kindString:
		if n.val == "" { // an array element: object members are checked above
			c.add(i, "", "empty", "empty string is not allowed")
		}
	case kindArray:
		if n.n == 0 {
			c.add(i, "", "empty", "empty array is not allowed")
			return
		}
		for ch := n.first; ch >= 0; ch = t.nodes[ch].next {
			c.walk(ch)
		}
	}
}

// isUUIDURN is uuidURN.MatchString without the regular expression engine:
// "urn:uuid:" and 8-4-4-4-12 lower-case hex digits, version 1 to 8, variant
// 10xx (TestUUIDMatcher compares the two).
func isUUIDURN(s string) bool {
	const prefix = "urn:uuid:"
	if len(s) != len(prefix)+36 || !strings.HasPrefix(s, prefix) {
		return false
	}
	u := s[len(prefix):]
	for i := 0; i < 36; i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return u[14] >= '1' && u[14] <= '8' && (u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b')
}

func (c *checker) typed(rt string, i int32) {
	t := c.t
	switch rt {
	case "Observation":
		c.observation(i)
	case "DiagnosticReport":
		if c.r4 {
			c.diagnosticReportR4(i)
			break
		}
		c.requiredCode(i, "status", diagnosticReportStatus, "diagnostic-report-status")
	case "Device":
		if c.r4 {
			c.deviceR4(i)
			break
		}
		c.device(i)
	case "DeviceAssociation":
		if !c.r4 { // not an R4 resource: the schema step reports it
			c.deviceAssociation(i)
		}
	case "Bundle":
		// The R5 bundle-type set includes R4's; the R4 schema rejects
		// R5's subscription-notification.
		c.bundle(i)
	case "Provenance":
		if c.r4 {
			c.provenanceR4(i)
		}
		for _, a := range t.objects(i, "agent") {
			if !t.has(a, "who") {
				c.add(a, ".who", "required", "agent.who is required")
			}
		}
		if c.r4 {
			c.provenanceEntitiesR4(i)
		}
	case "OperationOutcome":
		for _, is := range t.objects(i, "issue") {
			c.requiredCode(is, "severity", issueSeverity, "issue-severity")
			c.requiredCode(is, "code", issueType, "issue-type")
		}
	}
}

// requiredCode checks a 1..1 code element of object i against its required
// value set.
func (c *checker) requiredCode(i int32, key string, allowed map[string]bool, valueSet string) {
	if c.t.child(i, key) < 0 {
		c.add(i, "."+key, "required", key+" is required")
		return
	}
	c.optionalCode(i, key, allowed, valueSet)
}

func (c *checker) optionalCode(i int32, key string, allowed map[string]bool, valueSet string) {
	ch := c.t.child(i, key)
	if ch < 0 || c.t.nodes[ch].kind == kindNull {
		return
	}
	if c.t.nodes[ch].kind != kindString || !allowed[c.t.v(ch)] {
		c.add(i, "."+key, "code", key+" is not a code of the required value set "+valueSet)
	}
}

// hasValue reports whether an Observation or component has a value[x].
func (c *checker) hasValue(i int32) bool {
	for ch := c.t.nodes[i].first; ch >= 0; ch = c.t.nodes[ch].next {
		k := c.t.nodes[ch].key
		if len(k) > 5 && strings.HasPrefix(k, "value") && k[5] >= 'A' && k[5] <= 'Z' {
			return true
		}
		if len(k) > 6 && strings.HasPrefix(k, "_value") {
			return true
		}
	}
	return false
}

func (c *checker) observation(i int32) {
	t := c.t
	c.requiredCode(i, "status", observationStatus, "observation-status")
	if !c.r4 {
		c.profiles(i) // the R5 core profiles; R4 resources are not checked against them
	}
	if !t.has(i, "code") {
		c.add(i, ".code", "required", "code is required")
	}
	hasValue := c.hasValue(i)
	if t.has(i, "dataAbsentReason") && hasValue {
		c.add(i, ".dataAbsentReason", "obs-6", "dataAbsentReason must only be present when value[x] is absent")
	}
	if sd := t.child(i, "valueSampledData"); sd >= 0 && t.nodes[sd].kind == kindObject {
		c.sampledData(sd)
	}
	for k, comp := range t.objects(i, "component") {
		suffix := ".component[" + strconv.Itoa(k) + "]"
		if t.has(comp, "dataAbsentReason") && c.hasValue(comp) {
			c.add(i, suffix+".dataAbsentReason", "obs-6", "dataAbsentReason must only be present when value[x] is absent")
		}
		if sd := t.child(comp, "valueSampledData"); sd >= 0 && t.nodes[sd].kind == kindObject {
			c.sampledData(sd)
		}
		if hasValue && c.sharesCoding(i, comp) {
			c.add(i, suffix+".code", "obs-7", "a component with the Observation's own code requires Observation.value[x] to be absent")
		}
	}
	if c.r4 {
		return // triggeredBy is R5: the R4 schema rejects it
	}
	for _, tb := range t.objects(i, "triggeredBy") {
		c.requiredCode(tb, "type", triggeredByType, "observation-triggeredbytype")
		if !t.has(tb, "observation") {
			c.add(tb, ".observation", "required", "observation is required")
		}
	}
}

// sharesCoding reports whether the code of object a and that of object b
// have a coding (system and non-empty code) in common.
func (c *checker) sharesCoding(a, b int32) bool {
	t := c.t
	ca, cb := t.child(a, "code"), t.child(b, "code")
	if ca < 0 || cb < 0 || t.nodes[ca].kind != kindObject || t.nodes[cb].kind != kindObject {
		return false
	}
	for _, x := range t.objects(ca, "coding") {
		xc, _ := t.str(x, "code")
		if xc == "" {
			continue
		}
		xs, _ := t.str(x, "system")
		for _, y := range t.objects(cb, "coding") {
			yc, _ := t.str(y, "code")
			ys, _ := t.str(y, "system")
			if yc == xc && ys == xs {
				return true
			}
		}
	}
	return false
}

// sampledData checks SampledData i: origin and dimensions in both versions;
// in R5 intervalUnit and sdd-1 (interval xor offsets), in R4 period (R4 has
// no interval, intervalUnit or offsets; its schema rejects them).
func (c *checker) sampledData(i int32) {
	t := c.t
	if !t.has(i, "origin") {
		c.add(i, ".origin", "required", "origin is required")
	}
	if c.r4 {
		c.periodR4(i)
	} else if s, ok := t.str(i, "intervalUnit"); !ok || s == "" {
		c.add(i, ".intervalUnit", "required", "intervalUnit is required (R5)")
	}
	switch d := t.child(i, "dimensions"); {
	case d < 0 || t.nodes[d].kind == kindNull:
		c.add(i, ".dimensions", "required", "dimensions is required")
	case t.nodes[d].kind != kindNumber:
		c.add(i, ".dimensions", "value", "dimensions must be a positive integer")
	default:
		if n, err := strconv.ParseInt(t.v(d), 10, 64); err != nil || n < 1 {
			c.add(i, ".dimensions", "value", "dimensions must be a positive integer")
		}
	}
	if c.r4 {
		return
	}
	interval := t.has(i, "interval") || t.has(i, "_interval")
	offsets := t.has(i, "offsets") || t.has(i, "_offsets")
	if interval == offsets {
		c.add(i, "", "sdd-1", "exactly one of interval or offsets must be present")
	}
}

func (c *checker) device(i int32) {
	t := c.t
	c.optionalCode(i, "status", deviceStatus, "device-status")
	displays := 0
	for _, n := range t.objects(i, "name") {
		if s, ok := t.str(n, "value"); !ok || s == "" {
			c.add(n, ".value", "required", "value is required")
		}
		c.requiredCode(n, "type", deviceNameType, "device-nametype")
		if d := t.child(n, "display"); d >= 0 && t.nodes[d].kind == kindBool && t.v(d) == "true" {
			displays++
		}
	}
	if displays > 1 {
		c.add(i, ".name", "dev-1", "at most one name may have display = true")
	}
	c.deviceVersions(i)
	for _, pr := range t.objects(i, "property") {
		n := 0
		for ch := t.nodes[pr].first; ch >= 0; ch = t.nodes[ch].next {
			if strings.HasPrefix(t.nodes[ch].key, "value") {
				n++
			}
		}
		if n != 1 {
			c.add(pr, "", "required", "property needs exactly one value[x]")
		}
	}
}

// deviceVersions checks Device.version (both versions): value is required.
func (c *checker) deviceVersions(i int32) {
	for _, v := range c.t.objects(i, "version") {
		if !c.t.has(v, "value") {
			c.add(v, ".value", "required", "value is required")
		}
	}
}

func (c *checker) deviceAssociation(i int32) {
	t := c.t
	if !t.has(i, "device") {
		c.add(i, ".device", "required", "device is required")
	}
	st := t.child(i, "status")
	if st < 0 || t.nodes[st].kind != kindObject {
		c.add(i, ".status", "required", "status is required and must be a CodeableConcept")
		return
	}
	found := false
	for _, cd := range t.objects(st, "coding") {
		if sys, _ := t.str(cd, "system"); sys != DeviceAssociationStatusSystem {
			continue
		}
		code, _ := t.str(cd, "code")
		if !deviceAssociationStatus[code] {
			c.add(cd, ".code", "code", "code is not in the required value set deviceassociation-status")
			continue
		}
		found = true
	}
	if !found {
		c.add(st, "", "code", "status needs a coding from "+DeviceAssociationStatusSystem)
	}
}

func (c *checker) bundle(i int32) {
	t := c.t
	c.requiredCode(i, "type", bundleType, "bundle-type")
	typ, _ := t.str(i, "type")
	txn := typ == "transaction" || typ == "batch"
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	defer clear(c.seen)
	for k, e := range t.objects(i, "entry") {
		if fu, ok := t.str(e, "fullUrl"); ok && typ != "history" {
			key := fu
			if r := t.child(e, "resource"); r >= 0 && t.nodes[r].kind == kindObject {
				if meta := t.child(r, "meta"); meta >= 0 && t.nodes[meta].kind == kindObject {
					if vid, ok := t.str(meta, "versionId"); ok {
						key += "|" + vid
					}
				}
			}
			if j, dup := c.seen[key]; dup {
				c.add(e, ".fullUrl", "bdl-7", "fullUrl repeats the fullUrl of entry["+strconv.Itoa(j)+"]")
			} else {
				c.seen[key] = k
			}
		}
		req := t.child(e, "request")
		hasReq := req >= 0 && t.nodes[req].kind == kindObject
		if hasReq {
			c.request(req)
		}
		if txn {
			if !hasReq {
				c.add(e, ".request", "bdl-3c", "every "+typ+" entry needs a request")
				continue
			}
			method, _ := t.str(req, "method")
			withBody := method == "POST" || method == "PUT" || method == "PATCH"
			hasRes := t.child(e, "resource") >= 0
			switch {
			case withBody && !hasRes:
				c.add(e, ".resource", "bdl-3c", "a "+method+" entry needs a resource")
			case !withBody && hasRes && httpVerb[method]:
				c.add(e, ".resource", "bdl-3c", "a "+method+" entry must not carry a resource")
			}
		}
		if resp := t.child(e, "response"); resp >= 0 && t.nodes[resp].kind == kindObject {
			if s, ok := t.str(resp, "status"); !ok || s == "" {
				c.add(resp, ".status", "required", "status is required")
			}
		}
	}
}

func (c *checker) request(i int32) {
	c.requiredCode(i, "method", httpVerb, "http-verb")
	if s, ok := c.t.str(i, "url"); !ok || s == "" {
		c.add(i, ".url", "required", "url is required")
	}
	if s, ok := c.t.str(i, "ifNoneExist"); ok {
		if typedQuery.MatchString(s) || strings.HasPrefix(s, "?") {
			c.add(i, ".ifNoneExist", "value", "ifNoneExist must be the bare query, without \"Type?\"")
		}
	}
}

// resolve checks that every urn:uuid reference inside bundle i names the
// fullUrl of one of its entries.
func (c *checker) resolve(i int32, refs []refAt) {
	if len(refs) == 0 {
		return
	}
	if c.full == nil {
		c.full = map[string]bool{}
	}
	defer clear(c.full)
	for _, e := range c.t.objects(i, "entry") {
		if fu, ok := c.t.str(e, "fullUrl"); ok {
			c.full[fu] = true
		}
	}
	for _, r := range refs {
		if !c.full[r.ref] {
			c.add(r.node, "", "reference", "urn:uuid reference does not resolve to an entry fullUrl of the bundle")
		}
	}
}
