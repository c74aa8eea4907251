package r5

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// The datatypes below are those of samply/golang-fhir-models whose JSON is
// identical in R4 and R5 (checked against both official schemas). Only these
// are reused; samply's R4 resource structs are never emitted.
type (
	// Coding is the FHIR Coding datatype (samply, identical in R5).
	Coding = fhir.Coding
	// CodeableConcept is the FHIR CodeableConcept datatype (samply, identical in R5).
	CodeableConcept = fhir.CodeableConcept
	// Quantity is the FHIR Quantity datatype (samply, identical in R5); its
	// Value is a json.Number, so decimals keep their precision.
	Quantity = fhir.Quantity
	// Reference is the FHIR Reference datatype (samply, identical in R5).
	Reference = fhir.Reference
	// Identifier is the FHIR Identifier datatype (samply, identical in R5).
	Identifier = fhir.Identifier
	// Period is the FHIR Period datatype (samply, identical in R5).
	Period = fhir.Period
	// Meta is the FHIR Meta datatype (samply, identical in R5).
	Meta = fhir.Meta
	// Annotation is the FHIR Annotation datatype (samply, identical in R5).
	Annotation = fhir.Annotation
	// Range is the FHIR Range datatype (samply, identical in R5).
	Range = fhir.Range
	// Ratio is the FHIR Ratio datatype (samply, identical in R5).
	Ratio = fhir.Ratio
)

// ErrInvalid is wrapped by every error returned from a Validate method.
var ErrInvalid = errors.New("r5: invalid resource")

func invalid(rt, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, rt, fmt.Sprintf(format, args...))
}

// ObservationStatus is a code of http://hl7.org/fhir/ValueSet/observation-status.
type ObservationStatus string

// The observation-status codes (required binding).
const (
	ObservationRegistered     ObservationStatus = "registered"
	ObservationPreliminary    ObservationStatus = "preliminary"
	ObservationFinal          ObservationStatus = "final"
	ObservationAmended        ObservationStatus = "amended"
	ObservationCorrected      ObservationStatus = "corrected"
	ObservationCancelled      ObservationStatus = "cancelled"
	ObservationEnteredInError ObservationStatus = "entered-in-error"
	ObservationUnknown        ObservationStatus = "unknown"
)

// Valid reports whether s is a code of the value set.
func (s ObservationStatus) Valid() bool {
	switch s {
	case ObservationRegistered, ObservationPreliminary, ObservationFinal, ObservationAmended,
		ObservationCorrected, ObservationCancelled, ObservationEnteredInError, ObservationUnknown:
		return true
	}
	return false
}

// Observation is the R5 Observation resource, limited to the elements ohx emits.
type Observation struct {
	ID                   string                      `json:"id,omitempty"`
	Meta                 *Meta                       `json:"meta,omitempty"`
	Identifier           []Identifier                `json:"identifier,omitempty"`
	TriggeredBy          []ObservationTriggeredBy    `json:"triggeredBy,omitempty"`
	Status               ObservationStatus           `json:"status"`
	Category             []CodeableConcept           `json:"category,omitempty"`
	Code                 CodeableConcept             `json:"code"`
	Subject              *Reference                  `json:"subject,omitempty"`
	EffectiveDateTime    *string                     `json:"effectiveDateTime,omitempty"`
	EffectivePeriod      *Period                     `json:"effectivePeriod,omitempty"`
	EffectiveInstant     *string                     `json:"effectiveInstant,omitempty"`
	Issued               *string                     `json:"issued,omitempty"`
	Performer            []Reference                 `json:"performer,omitempty"`
	ValueQuantity        *Quantity                   `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept            `json:"valueCodeableConcept,omitempty"`
	ValueString          *string                     `json:"valueString,omitempty"`
	ValueInteger         *int64                      `json:"valueInteger,omitempty"`
	ValueSampledData     *SampledData                `json:"valueSampledData,omitempty"`
	ValuePeriod          *Period                     `json:"valuePeriod,omitempty"`
	DataAbsentReason     *CodeableConcept            `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept           `json:"interpretation,omitempty"`
	Note                 []Annotation                `json:"note,omitempty"`
	BodySite             *CodeableConcept            `json:"bodySite,omitempty"`
	Method               *CodeableConcept            `json:"method,omitempty"`
	Device               *Reference                  `json:"device,omitempty"`
	ReferenceRange       []ObservationReferenceRange `json:"referenceRange,omitempty"`
	HasMember            []Reference                 `json:"hasMember,omitempty"`
	DerivedFrom          []Reference                 `json:"derivedFrom,omitempty"`
	Component            []ObservationComponent      `json:"component,omitempty"`
}

// ObservationTriggeredBy is the R5 Observation.triggeredBy backbone element.
type ObservationTriggeredBy struct {
	Observation Reference   `json:"observation"`
	Type        TriggerType `json:"type"`
	Reason      *string     `json:"reason,omitempty"`
}

// TriggerType is a code of http://hl7.org/fhir/ValueSet/observation-triggeredbytype.
type TriggerType string

// The observation-triggeredbytype codes (required binding).
const (
	TriggerReflex TriggerType = "reflex"
	TriggerRepeat TriggerType = "repeat"
	TriggerReRun  TriggerType = "re-run"
)

// ObservationReferenceRange is the Observation.referenceRange backbone element.
type ObservationReferenceRange struct {
	Low         *Quantity        `json:"low,omitempty"`
	High        *Quantity        `json:"high,omitempty"`
	NormalValue *CodeableConcept `json:"normalValue,omitempty"`
	Type        *CodeableConcept `json:"type,omitempty"`
	Text        *string          `json:"text,omitempty"`
}

// ObservationComponent is the Observation.component backbone element.
type ObservationComponent struct {
	Code                 CodeableConcept             `json:"code"`
	ValueQuantity        *Quantity                   `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept            `json:"valueCodeableConcept,omitempty"`
	ValueString          *string                     `json:"valueString,omitempty"`
	ValueInteger         *int64                      `json:"valueInteger,omitempty"`
	ValueSampledData     *SampledData                `json:"valueSampledData,omitempty"`
	ValuePeriod          *Period                     `json:"valuePeriod,omitempty"`
	DataAbsentReason     *CodeableConcept            `json:"dataAbsentReason,omitempty"`
	Interpretation       []CodeableConcept           `json:"interpretation,omitempty"`
	ReferenceRange       []ObservationReferenceRange `json:"referenceRange,omitempty"`
}

func (c *ObservationComponent) valueCount() int {
	n := 0
	for _, set := range []bool{c.ValueQuantity != nil, c.ValueCodeableConcept != nil, c.ValueString != nil,
		c.ValueInteger != nil, c.ValueSampledData != nil, c.ValuePeriod != nil} {
		if set {
			n++
		}
	}
	return n
}

func (o *Observation) valueCount() int {
	n := 0
	for _, set := range []bool{o.ValueQuantity != nil, o.ValueCodeableConcept != nil, o.ValueString != nil,
		o.ValueInteger != nil, o.ValueSampledData != nil, o.ValuePeriod != nil} {
		if set {
			n++
		}
	}
	return n
}

// SampledData is the R5 SampledData datatype: interval and intervalUnit
// replace R4's period. Decimals are json.Number so precision is kept.
type SampledData struct {
	Origin       Quantity     `json:"origin"`
	Interval     *json.Number `json:"interval,omitempty"`
	IntervalUnit string       `json:"intervalUnit"`
	Factor       *json.Number `json:"factor,omitempty"`
	LowerLimit   *json.Number `json:"lowerLimit,omitempty"`
	UpperLimit   *json.Number `json:"upperLimit,omitempty"`
	Dimensions   int          `json:"dimensions"`
	CodeMap      *string      `json:"codeMap,omitempty"`
	Offsets      *string      `json:"offsets,omitempty"`
	Data         *string      `json:"data,omitempty"`
}

// Validate checks the required elements and invariant sdd-1.
func (s *SampledData) Validate() error {
	switch {
	case s.Origin.Value == nil:
		return invalid("SampledData", "origin.value is required")
	case s.IntervalUnit == "":
		return invalid("SampledData", "intervalUnit is required")
	case s.Dimensions < 1:
		return invalid("SampledData", "dimensions must be positive")
	case (s.Interval == nil) == (s.Offsets == nil):
		return invalid("SampledData", "exactly one of interval or offsets (sdd-1)")
	}
	return nil
}

// Validate checks what the schema cannot: the status code, the code, the
// SampledData values, obs-6 and obs-7, and that at most one value[x] is set.
func (o *Observation) Validate() error {
	if !o.Status.Valid() {
		return invalid("Observation", "status is not an observation-status code")
	}
	if isEmptyCC(&o.Code) {
		return invalid("Observation", "code is required")
	}
	if o.valueCount() > 1 {
		return invalid("Observation", "at most one value[x]")
	}
	if o.DataAbsentReason != nil && o.valueCount() > 0 {
		return invalid("Observation", "dataAbsentReason with a value (obs-6)")
	}
	if o.ValueSampledData != nil {
		if err := o.ValueSampledData.Validate(); err != nil {
			return err
		}
	}
	for i := range o.Component {
		c := &o.Component[i]
		if isEmptyCC(&c.Code) {
			return invalid("Observation", "component[%d].code is required", i)
		}
		if c.valueCount() > 1 {
			return invalid("Observation", "component[%d] has more than one value[x]", i)
		}
		if c.DataAbsentReason != nil && c.valueCount() > 0 {
			return invalid("Observation", "component[%d] dataAbsentReason with a value (obs-6)", i)
		}
		if c.ValueSampledData != nil {
			if err := c.ValueSampledData.Validate(); err != nil {
				return err
			}
		}
		if o.valueCount() > 0 && sameCode(&o.Code, &c.Code) {
			return invalid("Observation", "component[%d] repeats the code while a value is present (obs-7)", i)
		}
	}
	for i, t := range o.TriggeredBy {
		if t.Type != TriggerReflex && t.Type != TriggerRepeat && t.Type != TriggerReRun {
			return invalid("Observation", "triggeredBy[%d].type is not a code", i)
		}
	}
	return nil
}

func isEmptyCC(c *CodeableConcept) bool {
	return c == nil || (len(c.Coding) == 0 && (c.Text == nil || *c.Text == ""))
}

func sameCode(a, b *CodeableConcept) bool {
	for _, x := range a.Coding {
		for _, y := range b.Coding {
			if x.Code != nil && y.Code != nil && *x.Code == *y.Code && str(x.System) == str(y.System) {
				return true
			}
		}
	}
	return false
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// MarshalJSON writes the resource with its resourceType.
func (o Observation) MarshalJSON() ([]byte, error) {
	type plain Observation
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"Observation", plain(o)})
}

// DiagnosticReportStatus is a code of http://hl7.org/fhir/ValueSet/diagnostic-report-status.
type DiagnosticReportStatus string

// The diagnostic-report-status codes (required binding; R5 adds modified).
const (
	ReportRegistered     DiagnosticReportStatus = "registered"
	ReportPartial        DiagnosticReportStatus = "partial"
	ReportPreliminary    DiagnosticReportStatus = "preliminary"
	ReportModified       DiagnosticReportStatus = "modified"
	ReportFinal          DiagnosticReportStatus = "final"
	ReportAmended        DiagnosticReportStatus = "amended"
	ReportCorrected      DiagnosticReportStatus = "corrected"
	ReportAppended       DiagnosticReportStatus = "appended"
	ReportCancelled      DiagnosticReportStatus = "cancelled"
	ReportEnteredInError DiagnosticReportStatus = "entered-in-error"
	ReportUnknown        DiagnosticReportStatus = "unknown"
)

// Valid reports whether s is a code of the value set.
func (s DiagnosticReportStatus) Valid() bool {
	switch s {
	case ReportRegistered, ReportPartial, ReportPreliminary, ReportModified, ReportFinal, ReportAmended,
		ReportCorrected, ReportAppended, ReportCancelled, ReportEnteredInError, ReportUnknown:
		return true
	}
	return false
}

// DiagnosticReport is the R5 DiagnosticReport resource (no R4 imagingStudy;
// conclusionCode is a list of CodeableConcept).
type DiagnosticReport struct {
	ID                string                           `json:"id,omitempty"`
	Meta              *Meta                            `json:"meta,omitempty"`
	Identifier        []Identifier                     `json:"identifier,omitempty"`
	Status            DiagnosticReportStatus           `json:"status"`
	Category          []CodeableConcept                `json:"category,omitempty"`
	Code              CodeableConcept                  `json:"code"`
	Subject           *Reference                       `json:"subject,omitempty"`
	EffectiveDateTime *string                          `json:"effectiveDateTime,omitempty"`
	EffectivePeriod   *Period                          `json:"effectivePeriod,omitempty"`
	Issued            *string                          `json:"issued,omitempty"`
	Performer         []Reference                      `json:"performer,omitempty"`
	Result            []Reference                      `json:"result,omitempty"`
	Note              []Annotation                     `json:"note,omitempty"`
	SupportingInfo    []DiagnosticReportSupportingInfo `json:"supportingInfo,omitempty"`
	Media             []DiagnosticReportMedia          `json:"media,omitempty"`
	Conclusion        *string                          `json:"conclusion,omitempty"`
	ConclusionCode    []CodeableConcept                `json:"conclusionCode,omitempty"`
}

// DiagnosticReportSupportingInfo is the R5 DiagnosticReport.supportingInfo element.
type DiagnosticReportSupportingInfo struct {
	Type      CodeableConcept `json:"type"`
	Reference Reference       `json:"reference"`
}

// DiagnosticReportMedia is DiagnosticReport.media; in R5 link references a DocumentReference.
type DiagnosticReportMedia struct {
	Comment *string   `json:"comment,omitempty"`
	Link    Reference `json:"link"`
}

// Validate checks the status code and the code.
func (d *DiagnosticReport) Validate() error {
	if !d.Status.Valid() {
		return invalid("DiagnosticReport", "status is not a diagnostic-report-status code")
	}
	if isEmptyCC(&d.Code) {
		return invalid("DiagnosticReport", "code is required")
	}
	return nil
}

// MarshalJSON writes the resource with its resourceType.
func (d DiagnosticReport) MarshalJSON() ([]byte, error) {
	type plain DiagnosticReport
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"DiagnosticReport", plain(d)})
}

// DeviceStatus is a code of http://hl7.org/fhir/ValueSet/device-status.
type DeviceStatus string

// The R5 device-status codes (R4's unknown is gone).
const (
	DeviceActive         DeviceStatus = "active"
	DeviceInactive       DeviceStatus = "inactive"
	DeviceEnteredInError DeviceStatus = "entered-in-error"
)

// DeviceNameType is a code of http://hl7.org/fhir/ValueSet/device-nametype.
type DeviceNameType string

// The R5 device-nametype codes.
const (
	NameRegistered      DeviceNameType = "registered-name"
	NameUserFriendly    DeviceNameType = "user-friendly-name"
	NamePatientReported DeviceNameType = "patient-reported-name"
)

// Device is the R5 Device resource: name[] replaces R4 deviceName, type is a
// list, property has one value[x], and there is no patient (see DeviceAssociation).
type Device struct {
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	DisplayName  *string           `json:"displayName,omitempty"`
	Status       DeviceStatus      `json:"status,omitempty"`
	Manufacturer *string           `json:"manufacturer,omitempty"`
	SerialNumber *string           `json:"serialNumber,omitempty"`
	Name         []DeviceName      `json:"name,omitempty"`
	ModelNumber  *string           `json:"modelNumber,omitempty"`
	Category     []CodeableConcept `json:"category,omitempty"`
	Type         []CodeableConcept `json:"type,omitempty"`
	Version      []DeviceVersion   `json:"version,omitempty"`
	Property     []DeviceProperty  `json:"property,omitempty"`
	Note         []Annotation      `json:"note,omitempty"`
}

// DeviceName is the R5 Device.name element.
type DeviceName struct {
	Value   string         `json:"value"`
	Type    DeviceNameType `json:"type"`
	Display *bool          `json:"display,omitempty"`
}

// DeviceVersion is the R5 Device.version element.
type DeviceVersion struct {
	Type        *CodeableConcept `json:"type,omitempty"`
	Component   *Identifier      `json:"component,omitempty"`
	InstallDate *string          `json:"installDate,omitempty"`
	Value       string           `json:"value"`
}

// DeviceProperty is the R5 Device.property element; exactly one value must be set.
type DeviceProperty struct {
	Type                 CodeableConcept  `json:"type"`
	ValueQuantity        *Quantity        `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueString          *string          `json:"valueString,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueRange           *Range           `json:"valueRange,omitempty"`
}

// Validate checks status, name types (and dev-1), versions and properties.
func (d *Device) Validate() error {
	switch d.Status {
	case "", DeviceActive, DeviceInactive, DeviceEnteredInError:
	default:
		return invalid("Device", "status is not a device-status code")
	}
	displays := 0
	for i, n := range d.Name {
		if n.Value == "" {
			return invalid("Device", "name[%d].value is required", i)
		}
		switch n.Type {
		case NameRegistered, NameUserFriendly, NamePatientReported:
		default:
			return invalid("Device", "name[%d].type is not a device-nametype code", i)
		}
		if n.Display != nil && *n.Display {
			displays++
		}
	}
	if displays > 1 {
		return invalid("Device", "at most one name with display (dev-1)")
	}
	for i, v := range d.Version {
		if v.Value == "" {
			return invalid("Device", "version[%d].value is required", i)
		}
	}
	for i, p := range d.Property {
		n := 0
		for _, set := range []bool{p.ValueQuantity != nil, p.ValueCodeableConcept != nil, p.ValueString != nil,
			p.ValueBoolean != nil, p.ValueInteger != nil, p.ValueRange != nil} {
			if set {
				n++
			}
		}
		if n != 1 || isEmptyCC(&p.Type) {
			return invalid("Device", "property[%d] needs a type and exactly one value", i)
		}
	}
	return nil
}

// MarshalJSON writes the resource with its resourceType.
func (d Device) MarshalJSON() ([]byte, error) {
	type plain Device
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"Device", plain(d)})
}

// DeviceAssociationStatusSystem is the code system of DeviceAssociation.status.
const DeviceAssociationStatusSystem = "http://hl7.org/fhir/deviceassociation-status"

// The deviceassociation-status codes (required binding).
const (
	AssociationImplanted      = "implanted"
	AssociationExplanted      = "explanted"
	AssociationEnteredInError = "entered-in-error"
	AssociationAttached       = "attached"
	AssociationUnknown        = "unknown"
)

// DeviceAssociation is the R5 DeviceAssociation resource (new in R5); it
// links a Device to its patient. Status is a CodeableConcept, not a code.
type DeviceAssociation struct {
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Device       Reference         `json:"device"`
	Category     []CodeableConcept `json:"category,omitempty"`
	Status       CodeableConcept   `json:"status"`
	StatusReason []CodeableConcept `json:"statusReason,omitempty"`
	Subject      *Reference        `json:"subject,omitempty"`
	Period       *Period           `json:"period,omitempty"`
}

// AssociationStatus returns the status CodeableConcept for one of the
// deviceassociation-status codes.
func AssociationStatus(code string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: ptr(DeviceAssociationStatusSystem), Code: ptr(code)}}}
}

// Validate checks the device reference and the status coding.
func (a *DeviceAssociation) Validate() error {
	if a.Device.Reference == nil && a.Device.Identifier == nil {
		return invalid("DeviceAssociation", "device is required")
	}
	for _, c := range a.Status.Coding {
		if str(c.System) != DeviceAssociationStatusSystem {
			continue
		}
		switch str(c.Code) {
		case AssociationImplanted, AssociationExplanted, AssociationEnteredInError, AssociationAttached, AssociationUnknown:
			return nil
		}
	}
	return invalid("DeviceAssociation", "status needs a deviceassociation-status coding")
}

// MarshalJSON writes the resource with its resourceType.
func (a DeviceAssociation) MarshalJSON() ([]byte, error) {
	type plain DeviceAssociation
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"DeviceAssociation", plain(a)})
}

// Provenance is the R5 Provenance resource.
type Provenance struct {
	ID               string             `json:"id,omitempty"`
	Meta             *Meta              `json:"meta,omitempty"`
	Target           []Reference        `json:"target"`
	OccurredPeriod   *Period            `json:"occurredPeriod,omitempty"`
	OccurredDateTime *string            `json:"occurredDateTime,omitempty"`
	Recorded         *string            `json:"recorded,omitempty"`
	Activity         *CodeableConcept   `json:"activity,omitempty"`
	Patient          *Reference         `json:"patient,omitempty"`
	Agent            []ProvenanceAgent  `json:"agent"`
	Entity           []ProvenanceEntity `json:"entity,omitempty"`
}

// ProvenanceAgent is the Provenance.agent element.
type ProvenanceAgent struct {
	Type       *CodeableConcept  `json:"type,omitempty"`
	Role       []CodeableConcept `json:"role,omitempty"`
	Who        Reference         `json:"who"`
	OnBehalfOf *Reference        `json:"onBehalfOf,omitempty"`
}

// ProvenanceEntity is the Provenance.entity element; Role is a code of
// http://hl7.org/fhir/ValueSet/provenance-entity-role.
type ProvenanceEntity struct {
	Role string    `json:"role"`
	What Reference `json:"what"`
}

// Validate checks that there is at least one target and one agent.
func (p *Provenance) Validate() error {
	if len(p.Target) == 0 {
		return invalid("Provenance", "target is required")
	}
	if len(p.Agent) == 0 {
		return invalid("Provenance", "agent is required")
	}
	for i, e := range p.Entity {
		switch e.Role {
		case "revision", "quotation", "source", "instantiates", "removal":
		default:
			return invalid("Provenance", "entity[%d].role is not a provenance-entity-role code", i)
		}
	}
	return nil
}

// MarshalJSON writes the resource with its resourceType.
func (p Provenance) MarshalJSON() ([]byte, error) {
	type plain Provenance
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"Provenance", plain(p)})
}

// BundleType is a code of http://hl7.org/fhir/ValueSet/bundle-type.
type BundleType string

// The bundle-type codes ohx uses.
const (
	BundleTransaction         BundleType = "transaction"
	BundleTransactionResponse BundleType = "transaction-response"
	BundleBatch               BundleType = "batch"
	BundleBatchResponse       BundleType = "batch-response"
	BundleCollection          BundleType = "collection"
	BundleSearchset           BundleType = "searchset"
)

// HTTPVerb is a code of http://hl7.org/fhir/ValueSet/http-verb.
type HTTPVerb string

// The http-verb codes.
const (
	MethodGet    HTTPVerb = "GET"
	MethodHead   HTTPVerb = "HEAD"
	MethodPost   HTTPVerb = "POST"
	MethodPut    HTTPVerb = "PUT"
	MethodDelete HTTPVerb = "DELETE"
	MethodPatch  HTTPVerb = "PATCH"
)

// Bundle is the R5 Bundle resource. Entry resources are kept as JSON so a
// bundle can carry any resource, already marshalled.
type Bundle struct {
	ID        string        `json:"id,omitempty"`
	Meta      *Meta         `json:"meta,omitempty"`
	Type      BundleType    `json:"type"`
	Timestamp *string       `json:"timestamp,omitempty"`
	Total     *int          `json:"total,omitempty"`
	Entry     []BundleEntry `json:"entry,omitempty"`
}

// BundleEntry is one Bundle.entry.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Request  *BundleRequest  `json:"request,omitempty"`
	Response *BundleResponse `json:"response,omitempty"`
}

// BundleRequest is Bundle.entry.request. IfNoneExist is the bare query
// ("identifier=system|value"), never "Type?identifier=…".
type BundleRequest struct {
	Method          HTTPVerb `json:"method"`
	URL             string   `json:"url"`
	IfNoneMatch     *string  `json:"ifNoneMatch,omitempty"`
	IfModifiedSince *string  `json:"ifModifiedSince,omitempty"`
	IfMatch         *string  `json:"ifMatch,omitempty"`
	IfNoneExist     *string  `json:"ifNoneExist,omitempty"`
}

// BundleResponse is Bundle.entry.response.
type BundleResponse struct {
	Status       string          `json:"status"`
	Location     *string         `json:"location,omitempty"`
	Etag         *string         `json:"etag,omitempty"`
	LastModified *string         `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// Validate checks the bundle type, each request (bdl-3c for transactions and
// batches) and fullUrl uniqueness (bdl-7).
func (b *Bundle) Validate() error {
	switch b.Type {
	case "document", "message", BundleTransaction, BundleTransactionResponse, BundleBatch, BundleBatchResponse,
		"history", BundleSearchset, BundleCollection, "subscription-notification":
	default:
		return invalid("Bundle", "type is not a bundle-type code")
	}
	seen := make(map[string]bool, len(b.Entry))
	for i, e := range b.Entry {
		if e.FullURL != "" {
			if seen[e.FullURL] {
				return invalid("Bundle", "entry[%d].fullUrl is not unique (bdl-7)", i)
			}
			seen[e.FullURL] = true
		}
		if e.Request == nil {
			if b.Type == BundleTransaction || b.Type == BundleBatch {
				return invalid("Bundle", "entry[%d] needs a request (bdl-3c)", i)
			}
			continue
		}
		r := e.Request
		body := false
		switch r.Method {
		case MethodPost, MethodPut, MethodPatch:
			body = true
		case MethodGet, MethodHead, MethodDelete:
		default:
			return invalid("Bundle", "entry[%d].request.method is not an http-verb code", i)
		}
		if r.URL == "" {
			return invalid("Bundle", "entry[%d].request.url is required", i)
		}
		if (b.Type == BundleTransaction || b.Type == BundleBatch) && body != (len(e.Resource) > 0) {
			return invalid("Bundle", "entry[%d] resource presence does not match its method (bdl-3c)", i)
		}
	}
	return nil
}

// MarshalJSON writes the resource with its resourceType.
func (b Bundle) MarshalJSON() ([]byte, error) {
	type plain Bundle
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"Bundle", plain(b)})
}

// OperationOutcome is the R5 OperationOutcome resource.
type OperationOutcome struct {
	ID    string                  `json:"id,omitempty"`
	Meta  *Meta                   `json:"meta,omitempty"`
	Issue []OperationOutcomeIssue `json:"issue"`
}

// OperationOutcomeIssue is one OperationOutcome.issue. Severity is a code of
// issue-severity, Code one of issue-type.
type OperationOutcomeIssue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics *string          `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// Validate checks that there is at least one issue with severity and code.
func (o *OperationOutcome) Validate() error {
	if len(o.Issue) == 0 {
		return invalid("OperationOutcome", "issue is required")
	}
	for i, is := range o.Issue {
		switch is.Severity {
		case "fatal", "error", "warning", "information", "success":
		default:
			return invalid("OperationOutcome", "issue[%d].severity is not an issue-severity code", i)
		}
		if is.Code == "" {
			return invalid("OperationOutcome", "issue[%d].code is required", i)
		}
	}
	return nil
}

// MarshalJSON writes the resource with its resourceType.
func (o OperationOutcome) MarshalJSON() ([]byte, error) {
	type plain OperationOutcome
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		plain
	}{"OperationOutcome", plain(o)})
}

func ptr[T any](v T) *T { return &v }
