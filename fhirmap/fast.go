package fhirmap

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// The fast path writes the JSON of the most frequent shape, a single-quantity
// Observation (heart rate, steps, SpO2, …), directly into a byte slice. It
// produces exactly the bytes of the generic path (Observation + MarshalJSON);
// TestFastPathEqualsGeneric checks that for every quantity type.

// fastType is what the fast path needs of a single-quantity data type.
type fastType struct {
	codes    []byte // `"category":[…],"code":{…}`
	unit     string // the catalog unit
	decimals int    // see decimals
	day      *mapping
	usCore   *usCore // the US Core profile an R4 Observation of the type may claim
}

// fastEligible returns the fast-path entry of s's type when s has the plain
// quantity shape.
func (t *Transformer) fastEligible(s *ohx.Sample) *fastType {
	if s.Aggregate != nil || len(s.Components) != 0 || s.CompanionOf != "" {
		return nil
	}

	switch s.Recording {
	case ohx.RecordedByUser, ohx.RecordedDerived, ohx.RecordedAmbiguous:
		return nil
	}
	ft := t.fastCodes[s.Type]
	if ft != nil && ft.day != nil && dayTotal(ft.day, s) {
		return nil // its own code and unit: the generic path
	}
	return ft
}

// buildFastCodes pre-renders `"category":[…],"code":{…}` per single-quantity
// data type with the generic encoder, so both paths share those bytes.
func (t *Transformer) buildFastCodes() error {
	t.fastCodes = make(map[ohx.DataType]*fastType, len(table))
	for i := range table {
		m := &table[i]
		info, ok := m.Type.Info()
		if !ok || info.Shape != ohx.ShapeQuantity {
			continue
		}
		b, err := json.Marshal(struct {
			Category []r5.CodeableConcept `json:"category"`
			Code     r5.CodeableConcept   `json:"code"`
		}{category(m.Category), t.codeable(m.Codes, m.Text)})
		if err != nil {
			return fmt.Errorf("fhirmap: render codes of %s: %w", m.Type, err)
		}
		t.fastCodes[m.Type] = &fastType{codes: b[1 : len(b)-1], unit: info.Unit, decimals: decimalsOf(m.Type), usCore: usCoreFor(m.Type)}
		if m.Day != nil {
			t.fastCodes[m.Type].day = m
		}
	}
	return nil
}

func (t *Transformer) fastQuantity(link *ohx.Link, s *ohx.Sample, ft *fastType) (ohx.Resource, error) {
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s sample has a non-finite value", s.Type)
	}
	provider := s.Provider
	if provider == "" {
		provider = link.Provider
	}
	unit := s.Unit
	if unit == "" {
		unit = ft.unit
	}
	id := SampleID(link, s)
	ps := t.provider(provider)
	system := ps.observation

	// Size the buffer from the variable parts so it is neither grown nor oversized.
	need := 400 + len(ft.codes) + len(ps.source) + len(system) + len(link.Patient) + 2*len(unit) +
		len(ps.record) + len(s.RecordID) + len(s.DeviceName) + len(ps.device) + len(s.DeviceID)
	if t.r4() && ft.usCore != nil {
		need += len(`,"profile":[""]`) + len(ft.usCore.profile)
	}
	b := make([]byte, 0, need)
	b = append(b, `{"resourceType":"Observation","id":"`...)
	b = append(b, id...)
	b = append(b, `","meta":{"source":`...)
	b = appendString(b, ps.source)
	if t.r4() {
		b = appendProfileR4(b, ft, unit)
	}
	b = append(b, `},"identifier":[{"system":`...)
	b = appendString(b, system)
	b = append(b, `,"value":"`...)
	b = append(b, id...)
	b = append(b, `"}`...)
	if s.RecordID != "" {
		b = append(b, `,{"system":`...)
		b = appendString(b, ps.record)
		b = append(b, `,"value":`...)
		b = appendString(b, s.RecordID)
		b = append(b, '}')
	}
	b = append(b, `],"status":"`...)
	b = append(b, status(s)...)
	b = append(b, `",`...)
	b = append(b, ft.codes...)
	b = append(b, `,"subject":{"reference":`...)
	b = appendString(b, link.Patient)
	b = append(b, '}')
	if s.Instant() {
		b = append(b, `,"effectiveDateTime":"`...)
		b = s.LocalStart().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	} else {
		b = append(b, `,"effectivePeriod":{"start":"`...)
		b = s.LocalStart().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","end":"`...)
		b = s.LocalEnd().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	switch {
	case !s.Modified.IsZero():
		b = append(b, `,"issued":"`...)
		b = s.Modified.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	case !s.Created.IsZero():
		b = append(b, `,"issued":"`...)
		b = s.Created.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"valueQuantity":{"value":`...)
	b = appendDecimal(b, s.Value, ft.decimals)
	b = append(b, `,"unit":`...)
	b = appendString(b, unit)
	b = append(b, `,"system":"http://unitsofmeasure.org","code":`...)
	b = appendString(b, unit)
	b = append(b, '}')
	switch {
	case s.DeviceID != "" && t.cfg.LogicalReferences:
		b = append(b, `,"device":{"type":"Device","identifier":{"system":`...)
		b = appendString(b, ps.device)
		b = append(b, `,"value":`...)
		b = appendString(b, s.DeviceID)
		b = append(b, `}}`...)
	case s.DeviceID != "":
		b = append(b, `,"device":{"reference":"Device/`...)
		b = append(b, t.deviceID(provider, s.DeviceID)...)
		b = append(b, `"}`...)
	case s.DeviceName != "":
		b = append(b, `,"device":{"display":`...)
		b = appendString(b, s.DeviceName)
		b = append(b, '}')
	}
	b = append(b, '}')
	r := ohx.Resource{Type: "Observation", ID: id, Identifier: system + "|" + id, DataType: s.Type, JSON: b}
	if t.r4() {
		r.FHIRVersion = ohx.R4
	}
	return r, nil
}

// appendString appends s as a JSON string exactly as encoding/json writes it
// (including its HTML escaping), with a fast path for plain ASCII.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
