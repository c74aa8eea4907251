package r4

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// The R4 models this package writes (samply's, generated from the R4
// StructureDefinitions).
type (
	// Observation is the R4 Observation.
	Observation = fhir.Observation
	// DiagnosticReport is the R4 DiagnosticReport.
	DiagnosticReport = fhir.DiagnosticReport
	// Device is the R4 Device.
	Device = fhir.Device
	// Provenance is the R4 Provenance.
	Provenance = fhir.Provenance
	// SampledData is the R4 SampledData datatype (period in ms).
	SampledData = fhir.SampledData
)

// ErrNotConvertible is wrapped by every error of a conversion: an R5 value
// with no R4 form, or a required code left empty.
var ErrNotConvertible = errors.New("r4: not convertible")

func notConvertible(rt, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrNotConvertible, rt, fmt.Sprintf(format, args...))
}

// SystemMDCR4 is the URI the R4 code system registry gives ISO/IEEE
// 11073-10101 (OID 2.16.840.1.113883.6.24).
const SystemMDCR4 = "urn:iso:std:iso:11073:10101"

// systemMDCR5 is the system of MDC codes in the R5 example Observation "ekg",
// which the R5 mapping follows.
const systemMDCR5 = "urn:oid:2.16.840.1.113883.6.24"

// ExtensionSampledDataOffsets is the HL7 cross-version extension that
// carries the R5 SampledData.offsets element in R4.
const ExtensionSampledDataOffsets = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SampledData.offsets"

// System returns the R4 URI of a code system given by its R5 URI: only MDC
// differs among the systems ohx writes.
func System(r5System string) string {
	if r5System == systemMDCR5 {
		return SystemMDCR4
	}
	return r5System
}

// codeOf reads an R4 code type from its code string; an empty or unknown
// code is an error, never the type's zero value.
func codeOf[T any, P interface {
	*T
	UnmarshalJSON([]byte) error
}](rt, element, code string) (T, error) {
	var v T
	if code == "" {
		return v, notConvertible(rt, "%s is empty", element)
	}
	if err := P(&v).UnmarshalJSON([]byte(strconv.Quote(code))); err != nil {
		return v, notConvertible(rt, "%s has no R4 code", element)
	}
	return v, nil
}

func codeable(c r5.CodeableConcept) fhir.CodeableConcept {
	out := c
	if len(c.Coding) > 0 {
		out.Coding = make([]fhir.Coding, len(c.Coding))
		for i, cd := range c.Coding {
			if cd.System != nil {
				s := System(*cd.System)
				cd.System = &s
			}
			out.Coding[i] = cd
		}
	}
	return out
}

func codeablePtr(c *r5.CodeableConcept) *fhir.CodeableConcept {
	if c == nil {
		return nil
	}
	cc := codeable(*c)
	return &cc
}

func codeables(cs []r5.CodeableConcept) []fhir.CodeableConcept {
	if cs == nil {
		return nil
	}
	out := make([]fhir.CodeableConcept, len(cs))
	for i, c := range cs {
		out[i] = codeable(c)
	}
	return out
}

func intPtr(p *int64) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func idPtr(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// FromSampledData converts R5 SampledData: interval in ms becomes period;
// offsets go to the cross-version extension with period 0 (see the package
// documentation).
func FromSampledData(s *r5.SampledData) (*fhir.SampledData, error) {
	if s == nil {
		return nil, nil
	}
	out := &fhir.SampledData{
		Origin:     s.Origin,
		Factor:     s.Factor,
		LowerLimit: s.LowerLimit,
		UpperLimit: s.UpperLimit,
		Dimensions: s.Dimensions,
		Data:       s.Data,
	}
	switch {
	case s.Interval != nil && s.Offsets == nil:
		ms, err := millis(*s.Interval, s.IntervalUnit)
		if err != nil {
			return nil, err
		}
		out.Period = ms
	case s.Offsets != nil && s.Interval == nil:
		if s.IntervalUnit != "ms" {
			return nil, notConvertible("SampledData", "offsets are not in ms")
		}
		if p, ok := regularPeriod(*s.Offsets); ok {
			out.Period = p // evenly spaced from 0: the period says it all
			break
		}
		out.Period = json.Number("0")
		out.Extension = []fhir.Extension{{Url: ExtensionSampledDataOffsets, ValueString: s.Offsets}}
	default:
		return nil, notConvertible("SampledData", "needs exactly one of interval or offsets")
	}
	if s.CodeMap != nil {
		return nil, notConvertible("SampledData", "codeMap has no R4 form")
	}
	if out.Dimensions < 1 {
		return nil, notConvertible("SampledData", "dimensions must be positive")
	}
	return out, nil
}

// regularPeriod returns the spacing of offsets that start at 0 and are
// evenly spaced (at least two of them), as written in the offsets.
func regularPeriod(offsets string) (json.Number, bool) {
	fields := strings.Fields(offsets)
	if len(fields) < 2 || fields[0] != "0" {
		return "", false
	}
	step, err := strconv.ParseFloat(fields[1], 64)
	if err != nil || !(step > 0) {
		return "", false
	}
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v != float64(i)*step {
			return "", false
		}
	}
	return json.Number(fields[1]), true
}

// ucumMillis are the UCUM time units R5 intervalUnit may use, in ms.
var ucumMillis = map[string]float64{"ms": 1, "s": 1000, "min": 60000, "h": 3600000}

func millis(v json.Number, unit string) (json.Number, error) {
	f, ok := ucumMillis[unit]
	if !ok {
		return "", notConvertible("SampledData", "intervalUnit is not a time unit R4 can express")
	}
	if f == 1 {
		return v, nil
	}
	x, err := v.Float64()
	if err != nil {
		return "", notConvertible("SampledData", "interval is not a number")
	}
	return json.Number(strconv.FormatFloat(x*f, 'f', -1, 64)), nil
}

// FromObservation converts an R5 Observation to R4. Observation.triggeredBy
// and referenceRange.normalValue have no R4 element and are left out.
func FromObservation(o *r5.Observation) (*fhir.Observation, error) {
	status, err := codeOf[fhir.ObservationStatus]("Observation", "status", string(o.Status))
	if err != nil {
		return nil, err
	}
	if len(o.Code.Coding) == 0 && (o.Code.Text == nil || *o.Code.Text == "") {
		return nil, notConvertible("Observation", "code is empty")
	}
	out := &fhir.Observation{
		Id:                   idPtr(o.ID),
		Meta:                 o.Meta,
		Identifier:           o.Identifier,
		Status:               status,
		Category:             codeables(o.Category),
		Code:                 codeable(o.Code),
		Subject:              o.Subject,
		EffectiveDateTime:    o.EffectiveDateTime,
		EffectivePeriod:      o.EffectivePeriod,
		EffectiveInstant:     o.EffectiveInstant,
		Issued:               o.Issued,
		Performer:            o.Performer,
		ValueQuantity:        o.ValueQuantity,
		ValueCodeableConcept: codeablePtr(o.ValueCodeableConcept),
		ValueString:          o.ValueString,
		ValueInteger:         intPtr(o.ValueInteger),
		ValuePeriod:          o.ValuePeriod,
		DataAbsentReason:     codeablePtr(o.DataAbsentReason),
		Interpretation:       codeables(o.Interpretation),
		Note:                 o.Note,
		BodySite:             codeablePtr(o.BodySite),
		Method:               codeablePtr(o.Method),
		Device:               o.Device,
		ReferenceRange:       referenceRanges(o.ReferenceRange),
		HasMember:            o.HasMember,
		DerivedFrom:          o.DerivedFrom,
	}
	if out.ValueSampledData, err = FromSampledData(o.ValueSampledData); err != nil {
		return nil, err
	}
	for i := range o.Component {
		c := &o.Component[i]
		rc := fhir.ObservationComponent{
			Code:                 codeable(c.Code),
			ValueQuantity:        c.ValueQuantity,
			ValueCodeableConcept: codeablePtr(c.ValueCodeableConcept),
			ValueString:          c.ValueString,
			ValueInteger:         intPtr(c.ValueInteger),
			ValuePeriod:          c.ValuePeriod,
			DataAbsentReason:     codeablePtr(c.DataAbsentReason),
			Interpretation:       codeables(c.Interpretation),
			ReferenceRange:       referenceRanges(c.ReferenceRange),
		}
		if rc.ValueSampledData, err = FromSampledData(c.ValueSampledData); err != nil {
			return nil, err
		}
		out.Component = append(out.Component, rc)
	}
	return out, nil
}

func referenceRanges(rs []r5.ObservationReferenceRange) []fhir.ObservationReferenceRange {
	var out []fhir.ObservationReferenceRange
	for _, r := range rs {
		rr := fhir.ObservationReferenceRange{Low: r.Low, High: r.High, Type: codeablePtr(r.Type), Text: r.Text}
		if rr.Low == nil && rr.High == nil && rr.Text == nil {
			continue // only an R5 normalValue: nothing left in R4
		}
		out = append(out, rr)
	}
	return out
}

// FromDiagnosticReport converts an R5 DiagnosticReport to R4. R5's note,
// supportingInfo and media are left out; the status "modified" (new in R5)
// has no R4 code and is an error.
func FromDiagnosticReport(d *r5.DiagnosticReport) (*fhir.DiagnosticReport, error) {
	status, err := codeOf[fhir.DiagnosticReportStatus]("DiagnosticReport", "status", string(d.Status))
	if err != nil {
		return nil, err
	}
	if len(d.Code.Coding) == 0 && (d.Code.Text == nil || *d.Code.Text == "") {
		return nil, notConvertible("DiagnosticReport", "code is empty")
	}
	return &fhir.DiagnosticReport{
		Id:                idPtr(d.ID),
		Meta:              d.Meta,
		Identifier:        d.Identifier,
		Status:            status,
		Category:          codeables(d.Category),
		Code:              codeable(d.Code),
		Subject:           d.Subject,
		EffectiveDateTime: d.EffectiveDateTime,
		EffectivePeriod:   d.EffectivePeriod,
		Issued:            d.Issued,
		Performer:         d.Performer,
		Result:            d.Result,
		Conclusion:        d.Conclusion,
		ConclusionCode:    codeables(d.ConclusionCode),
	}, nil
}

// deviceNameType maps the R5 device-nametype codes to R4's. R5
// registered-name is how the R5 mapping names a device by its model, for
// which R4 has model-name.
var deviceNameType = map[r5.DeviceNameType]fhir.DeviceNameType{
	r5.NameRegistered:      fhir.DeviceNameTypeModelName,
	r5.NameUserFriendly:    fhir.DeviceNameTypeUserFriendlyName,
	r5.NamePatientReported: fhir.DeviceNameTypePatientReportedName,
}

// FromDevice converts an R5 Device to R4. When a is not nil (the R5
// DeviceAssociation of the device with its patient) and is not
// entered-in-error, its subject becomes Device.patient, the R4 way to link a
// device to its patient. Device.type keeps the first R5 type; displayName,
// category, name.display and version.installDate are left out.
func FromDevice(d *r5.Device, a *r5.DeviceAssociation) (*fhir.Device, error) {
	out := &fhir.Device{
		Id:           idPtr(d.ID),
		Meta:         d.Meta,
		Identifier:   d.Identifier,
		Manufacturer: d.Manufacturer,
		SerialNumber: d.SerialNumber,
		ModelNumber:  d.ModelNumber,
		Note:         d.Note,
	}
	if d.Status != "" {
		st, err := codeOf[fhir.FHIRDeviceStatus]("Device", "status", string(d.Status))
		if err != nil {
			return nil, err
		}
		out.Status = &st
	}
	for _, n := range d.Name {
		t, ok := deviceNameType[n.Type]
		if !ok || n.Value == "" {
			return nil, notConvertible("Device", "name needs a value and a device-nametype code")
		}
		out.DeviceName = append(out.DeviceName, fhir.DeviceDeviceName{Name: n.Value, Type: t})
	}
	if len(d.Type) > 0 {
		t := codeable(d.Type[0])
		out.Type = &t
	}
	for _, v := range d.Version {
		out.Version = append(out.Version, fhir.DeviceVersion{Type: codeablePtr(v.Type), Component: v.Component, Value: v.Value})
	}
	for _, p := range d.Property {
		rp := fhir.DeviceProperty{Type: codeable(p.Type)}
		switch {
		case p.ValueQuantity != nil:
			rp.ValueQuantity = []fhir.Quantity{*p.ValueQuantity}
		case p.ValueCodeableConcept != nil:
			rp.ValueCode = []fhir.CodeableConcept{codeable(*p.ValueCodeableConcept)}
		case p.ValueString != nil:
			rp.ValueCode = []fhir.CodeableConcept{{Text: p.ValueString}}
		default:
			return nil, notConvertible("Device", "property value has no R4 form (R4 has quantities and codes only)")
		}
		out.Property = append(out.Property, rp)
	}
	if a != nil && a.Subject != nil && !associationEnteredInError(a) {
		out.Patient = a.Subject
	}
	return out, nil
}

func associationEnteredInError(a *r5.DeviceAssociation) bool {
	for _, c := range a.Status.Coding {
		if c.System != nil && *c.System == r5.DeviceAssociationStatusSystem && c.Code != nil && *c.Code == r5.AssociationEnteredInError {
			return true
		}
	}
	return false
}

// FromProvenance converts an R5 Provenance to R4. R4 has no
// Provenance.patient (the targets name the patient's resources); recorded is
// required in R4.
func FromProvenance(p *r5.Provenance) (*fhir.Provenance, error) {
	if p.Recorded == nil || *p.Recorded == "" {
		return nil, notConvertible("Provenance", "recorded is required in R4")
	}
	if len(p.Target) == 0 || len(p.Agent) == 0 {
		return nil, notConvertible("Provenance", "target and agent are required")
	}
	out := &fhir.Provenance{
		Id:               idPtr(p.ID),
		Meta:             p.Meta,
		Target:           p.Target,
		OccurredPeriod:   p.OccurredPeriod,
		OccurredDateTime: p.OccurredDateTime,
		Recorded:         *p.Recorded,
		Activity:         codeablePtr(p.Activity),
	}
	for _, a := range p.Agent {
		out.Agent = append(out.Agent, fhir.ProvenanceAgent{Type: codeablePtr(a.Type), Role: codeables(a.Role), Who: a.Who, OnBehalfOf: a.OnBehalfOf})
	}
	for _, e := range p.Entity {
		role, err := codeOf[fhir.ProvenanceEntityRole]("Provenance", "entity.role", e.Role)
		if err != nil {
			return nil, err
		}
		out.Entity = append(out.Entity, fhir.ProvenanceEntity{Role: role, What: e.What})
	}
	return out, nil
}

// Marshal writes an R4 Observation, DiagnosticReport, Device or Provenance
// as JSON with resourceType first (samply's own MarshalJSON writes it last).
func Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case *fhir.Observation:
		return marshalFirst("Observation", (*fhir.OtherObservation)(v))
	case *fhir.DiagnosticReport:
		return marshalFirst("DiagnosticReport", (*fhir.OtherDiagnosticReport)(v))
	case *fhir.Device:
		return marshalFirst("Device", (*fhir.OtherDevice)(v))
	case *fhir.Provenance:
		return marshalFirst("Provenance", (*fhir.OtherProvenance)(v))
	}
	return nil, fmt.Errorf("r4: Marshal: unsupported type %T", v)
}

// marshalFirst writes plain, one of samply's OtherX copies of a model (the
// model without its MarshalJSON, which would add resourceType last), as a
// JSON object that starts with resourceType: the bytes are those of a struct
// of resourceType followed by *plain embedded. (A type parameter cannot be
// embedded, hence the splice.)
func marshalFirst[P any](resourceType string, plain *P) ([]byte, error) {
	body, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(resourceType)+20)
	out = append(out, `{"resourceType":"`...)
	out = append(out, resourceType...)
	out = append(out, '"')
	if len(body) > len("{}") {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}
