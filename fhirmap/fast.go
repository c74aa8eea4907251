package fhirmap

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/openhealthexchange/ohx"
)

// The fast path writes the JSON of the most frequent shape, a single-quantity
// Observation (heart rate, steps, SpO2, …), directly into a byte slice. It
// produces exactly the bytes of the generic path (Observation + MarshalJSON);
// TestFastPathEqualsGeneric checks that for every quantity type.

// fastEligible reports whether s has the plain quantity shape.
func (t *Transformer) fastEligible(s *ohx.Sample) bool {
	if s.Aggregate != nil || len(s.Components) != 0 || s.CompanionOf != "" || t.fastCodes == nil {
		return false
	}
	switch s.Recording {
	case ohx.RecordedByUser, ohx.RecordedDerived, ohx.RecordedAmbiguous:
		return false
	}
	info, ok := s.Type.Info()
	if !ok || info.Shape != ohx.ShapeQuantity {
		return false
	}
	_, ok = t.fastCodes[s.Type]
	return ok
}

// buildFastCodes pre-renders `"category":[…],"code":{…}` per data type with
// the generic encoder, so both paths share those bytes.
func (t *Transformer) buildFastCodes() error {
	t.fastCodes = make(map[ohx.DataType][]byte, len(table))
	for i := range table {
		m := &table[i]
		b, err := json.Marshal(struct {
			Category []CodeableConcept `json:"category"`
			Code     CodeableConcept   `json:"code"`
		}{category(m.Category), t.codeable(m.Codes, m.Text)})
		if err != nil {
			return fmt.Errorf("fhirmap: render codes of %s: %w", m.Type, err)
		}
		t.fastCodes[m.Type] = b[1 : len(b)-1]
	}
	return nil
}

func (t *Transformer) fastQuantity(link *ohx.Link, s *ohx.Sample) (ohx.Resource, error) {
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s sample has a non-finite value", s.Type)
	}
	provider := s.Provider
	if provider == "" {
		provider = link.Provider
	}
	unit := s.Unit
	if unit == "" {
		info, _ := s.Type.Info()
		unit = info.Unit
	}
	id := SampleID(link, s)
	ps := t.provider(provider)
	system := ps.observation

	b := make([]byte, 0, 768)
	b = append(b, `{"resourceType":"Observation","id":"`...)
	b = append(b, id...)
	b = append(b, `","meta":{"source":`...)
	b = appendString(b, ps.source)
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
	b = append(b, t.fastCodes[s.Type]...)
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
	b = appendFloat(b, s.Value)
	b = append(b, `,"unit":`...)
	b = appendString(b, unit)
	b = append(b, `,"system":"http://unitsofmeasure.org","code":`...)
	b = appendString(b, unit)
	b = append(b, '}')
	switch {
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
	return ohx.Resource{Type: "Observation", ID: id, Identifier: system + "|" + id, DataType: s.Type, JSON: b}, nil
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

func appendFloat(b []byte, v float64) []byte {
	return append(b, formatFloat(v)...)
}
