package fhirmap

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r4"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// R4 output is the R5 mapping converted by package fhirmap/r4: the samples
// are mapped once, to the R5 structs, so every correction of the mapping
// reaches both versions. This file holds what only R4 does: the conversion
// hooks, the Device that carries its patient instead of a DeviceAssociation,
// and the US Core profile claims.

// r4 reports whether the transformer writes FHIR R4.
func (t *Transformer) r4() bool { return t.cfg.Version == ohx.R4 }

func checkVersion(v ohx.FHIRVersion) error {
	switch v {
	case "", ohx.R5, ohx.R4:
		return nil
	}
	return fmt.Errorf("fhirmap: Version must be R5 or R4, not %q", string(v))
}

// resourceR4 converts an R5 resource built by the mapping to R4 and marshals it.
func (t *Transformer) resourceR4(typ, id string, dt ohx.DataType, ident r5.Identifier, v any) (ohx.Resource, error) {
	var (
		out any
		err error
	)
	switch v := v.(type) {
	case *r5.Observation:
		out, err = r4.FromObservation(v)
	case *r5.DiagnosticReport:
		out, err = r4.FromDiagnosticReport(v)
	case *r5.Device:
		out, err = r4.FromDevice(v, nil)
	case *r5.Provenance:
		out, err = r4.FromProvenance(v)
	default:
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s has no R4 form", typ)
	}
	if err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: %w", err)
	}
	return t.marshalR4(typ, id, dt, ident, out)
}

func (t *Transformer) marshalR4(typ, id string, dt ohx.DataType, ident r5.Identifier, v any) (ohx.Resource, error) {
	data, err := r4.Marshal(v)
	if err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: marshal %s: %w", typ, err)
	}
	return ohx.Resource{Type: typ, ID: id, Identifier: str(ident.System) + "|" + str(ident.Value), DataType: dt,
		JSON: json.RawMessage(data), FHIRVersion: ohx.R4}, nil
}

// sampleR4 maps one sample to its R4 Observation: the fast path for the
// plain quantity shape (the same bytes, see TestR4FastPathEqualsGeneric),
// otherwise ObservationR4.
func (t *Transformer) sampleR4(link *ohx.Link, s *ohx.Sample) (ohx.Resource, error) {
	if ft := t.fastEligible(s); ft != nil {
		return t.fastQuantity(link, s, ft)
	}
	o, err := t.ObservationR4(link, s)
	if err != nil {
		return ohx.Resource{}, err
	}
	return t.marshalR4("Observation", *o.Id, s.Type, o.Identifier[0], o)
}

// ObservationR4 builds the FHIR R4 Observation of one sample: the R5
// Observation of the generic path converted by package fhirmap/r4, with the
// US Core vital-signs profile it meets claimed in meta.profile.
func (t *Transformer) ObservationR4(link *ohx.Link, s *ohx.Sample) (*r4.Observation, error) {
	o, err := t.Observation(link, s)
	if err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ro, err := r4.FromObservation(o)
	if err != nil {
		return nil, fmt.Errorf("fhirmap: %w", err)
	}
	// R4 claims US Core only: the R5 vital-signs claims of the R5 mapping
	// are not carried over.
	meta := *ro.Meta
	meta.Profile = nil
	if p := usCoreProfile(s, o); p != "" {
		meta.Profile = []string{p}
	}
	ro.Meta = &meta
	return ro, nil
}

// deviceR4 maps a provider device to one R4 Device whose patient is the
// link's patient: R4 has no DeviceAssociation.
func (t *Transformer) deviceR4(link *ohx.Link, d *ohx.Device) ([]ohx.Resource, error) {
	rd, err := t.DeviceR4(link, d)
	if err != nil {
		return nil, err
	}
	r, err := t.marshalR4("Device", *rd.Id, "", rd.Identifier[0], rd)
	if err != nil {
		return nil, err
	}
	return []ohx.Resource{r}, nil
}

// DeviceR4 builds the FHIR R4 Device of a provider device: the R5 Device and
// DeviceAssociation of the mapping converted by package fhirmap/r4, the
// association becoming Device.patient.
func (t *Transformer) DeviceR4(link *ohx.Link, d *ohx.Device) (*r4.Device, error) {
	dev, err := t.Device(link, d)
	if err != nil {
		return nil, err
	}
	a, err := t.DeviceAssociation(link, d)
	if err != nil {
		return nil, err
	}
	if err := dev.Validate(); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	rd, err := r4.FromDevice(dev, a)
	if err != nil {
		return nil, fmt.Errorf("fhirmap: %w", err)
	}
	return rd, nil
}

// US Core (version 6.1.0, for FHIR R4) vital-signs profiles ohx claims.
// Source: hl7.org/fhir/us/core/STU6.1/ (profiles us-core-heart-rate,
// us-core-respiratory-rate, us-core-body-temperature, us-core-body-weight,
// us-core-pulse-oximetry and us-core-blood-pressure, all derived from
// us-core-vital-signs: status, category vital-signs, code, subject
// Patient, effective[x], and value[x] in the profile's UCUM unit or a
// dataAbsentReason).
const (
	// USCoreVersion is the US Core release whose profiles R4 output claims.
	USCoreVersion = "6.1.0"
	// ProfileHeartRate is US Core Heart Rate (LOINC 8867-4, /min).
	ProfileHeartRate = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-heart-rate"
	// ProfileRespRate is US Core Respiratory Rate (LOINC 9279-1, /min).
	ProfileRespRate = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-respiratory-rate"
	// ProfileBodyTemp is US Core Body Temperature (LOINC 8310-5, Cel or [degF]).
	ProfileBodyTemp = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-temperature"
	// ProfileBodyWeight is US Core Body Weight (LOINC 29463-7, kg, g or [lb_av]).
	ProfileBodyWeight = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-weight"
	// ProfilePulseOx is US Core Pulse Oximetry (LOINC 59408-5 and 2708-6, %).
	ProfilePulseOx = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-pulse-oximetry"
	// ProfileBloodPressure is US Core Blood Pressure (LOINC 85354-9 with the
	// systolic 8480-6 and diastolic 8462-4 components in mm[Hg]).
	ProfileBloodPressure = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"
)

// usCore is one US Core vital-signs profile: the LOINC codes its code must
// carry (all of them) and the UCUM units its value may be in.
type usCore struct {
	profile string
	codes   []string
	units   []string
}

var usCoreProfiles = []usCore{
	{ProfileHeartRate, []string{"8867-4"}, []string{"/min"}},
	{ProfileRespRate, []string{"9279-1"}, []string{"/min"}},
	{ProfileBodyTemp, []string{"8310-5"}, []string{"Cel", "[degF]"}},
	{ProfileBodyWeight, []string{"29463-7"}, []string{"kg", "g", "[lb_av]"}},
	{ProfilePulseOx, []string{"59408-5", "2708-6"}, []string{"%"}},
	{ProfileBloodPressure, []string{"85354-9"}, []string{"mm[Hg]"}},
}

// usCoreFor returns the profile whose codes the mapping row of dt carries, if any.
func usCoreFor(dt ohx.DataType) *usCore {
	m := tableIndex[dt]
	if m == nil || m.Category != catVitalSigns {
		return nil
	}
	for i := range usCoreProfiles {
		p := &usCoreProfiles[i]
		all := true
		for _, c := range p.codes {
			if !slices.ContainsFunc(m.Codes, func(x code) bool { return x.System == SystemLOINC && x.Code == c }) {
				all = false
			}
		}
		if all {
			return p
		}
	}
	return nil
}

// usCoreProfile returns the US Core profile the Observation of s meets, or
// "": only individual measurements (an hourly aggregate carries statistics
// the profiles do not describe) whose value, or for blood pressure both
// components, are in a unit the profile allows.
func usCoreProfile(s *ohx.Sample, o *r5.Observation) string {
	if s.Aggregate != nil {
		return ""
	}
	p := usCoreFor(s.Type)
	if p == nil {
		return ""
	}
	if p.profile == ProfileBloodPressure {
		n := 0
		for _, c := range o.Component {
			if c.ValueQuantity == nil || !slices.Contains(p.units, str(c.ValueQuantity.Code)) {
				return ""
			}
			for _, cd := range c.Code.Coding {
				if str(cd.System) == SystemLOINC && (str(cd.Code) == "8480-6" || str(cd.Code) == "8462-4") {
					n++
				}
			}
		}
		if n != 2 {
			return ""
		}
		return p.profile
	}
	if o.ValueQuantity == nil || !slices.Contains(p.units, str(o.ValueQuantity.Code)) {
		return ""
	}
	return p.profile
}

// appendProfileR4 appends the meta.profile member of an R4 fast-path
// Observation, when its type and unit meet a US Core profile.
func appendProfileR4(b []byte, ft *fastType, unit string) []byte {
	if ft.usCore == nil || !slices.Contains(ft.usCore.units, unit) {
		return b
	}
	b = append(b, `,"profile":[`...)
	b = appendString(b, ft.usCore.profile)
	return append(b, ']')
}
