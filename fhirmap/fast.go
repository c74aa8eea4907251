package fhirmap

import (
	"bytes"
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
	head     []byte // codes up to the end of the last coding: `"category":[…],"code":{"coding":[…}`
	tail     []byte // the rest of codes: `],"text":…}`
	profiles []byte // `,"profile":[…]` of meta, or nothing
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
	if ft == nil || (s.Unit != "" && s.Unit != ft.unit) || dateOnly(s) {
		return nil
	}
	if ft.day != nil && dayTotal(ft.day, s) {
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
		if !ok || info.Shape != ohx.ShapeQuantity || m.Statistic.Text != "" {
			continue
		}
		b, err := json.Marshal(struct {
			Category []r5.CodeableConcept `json:"category"`
			Code     r5.CodeableConcept   `json:"code"`
		}{category(m.Category), t.codeable(m.Codes, m.Text)})
		if err != nil {
			return fmt.Errorf("fhirmap: render codes of %s: %w", m.Type, err)
		}
		// The claims of a plain quantity in the catalog unit, as the generic
		// path computes them.
		probe := &r5.Observation{Category: category(m.Category), Code: t.codeable(m.Codes, m.Text),
			Subject: &r5.Reference{Reference: ptr("Patient/x")}, EffectiveDateTime: ptr("2026-01-01"),
			ValueQuantity: quantity(0, info.Unit, decimalsOf(m.Type))}
		var profiles []byte
		if claims := claimProfiles(probe, m); len(claims) > 0 {
			p, err := json.Marshal(claims)
			if err != nil {
				return fmt.Errorf("fhirmap: render profiles of %s: %w", m.Type, err)
			}
			profiles = append([]byte(`,"profile":`), p...)
		}
		codes := b[1 : len(b)-1]
		cut := bytes.LastIndex(codes, []byte(`}],"text":`))
		if cut < 0 {
			return fmt.Errorf("fhirmap: render codes of %s: no coding list", m.Type)
		}
		ft := &fastType{codes: codes, head: codes[:cut+1], tail: codes[cut+1:], profiles: profiles, unit: info.Unit,
			decimals: decimalsOf(m.Type), usCore: usCoreFor(m.Type)}
		if m.Day != nil {
			ft.day = m
		}
		t.fastCodes[m.Type] = ft
	}
	return nil
}

func (t *Transformer) fastQuantity(link *ohx.Link, s *ohx.Sample, ft *fastType) (ohx.Resource, error) {
	return t.fastQuantityIn(link, s, ft, (*slab)(nil))
}

// fastQuantityIn is fastQuantity writing the JSON into a buffer of bufs (a
// nil *slab gives the resource a buffer of its own).
func (t *Transformer) fastQuantityIn(link *ohx.Link, s *ohx.Sample, ft *fastType, bufs buffers) (ohx.Resource, error) {
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
	ps := t.provider(provider)
	system := ps.observation
	// One string holds the business identifier "system|id"; the id is its
	// tail, not a string of its own.
	idb := sampleID(link, s)
	ident := system + "|" + string(idb[:])
	id := ident[len(system)+1:]

	// Size the buffer from the variable parts so it is neither grown nor oversized.
	need := 440 + len(ft.codes) + len(ft.profiles) + len(ps.providerType) + len(s.ProviderType) + len(ps.source) + len(system) + 2*len(link.Patient) + 2*len(unit) +
		len(ps.record) + len(s.RecordID) + len(s.DeviceName) + len(ps.device) + len(s.DeviceID)
	if t.r4() && ft.usCore != nil {
		need += len(`,"profile":[""]`) + len(ft.usCore.profile)
	}
	b := bufs.Buffer(need)
	b = append(b, `{"resourceType":"Observation","id":"`...)
	b = append(b, id...)
	b = append(b, `","meta":{"source":`...)
	b = appendString(b, ps.source)
	if t.r4() {
		b = appendProfileR4(b, ft, unit)
	} else {
		b = append(b, ft.profiles...)
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
	if s.ProviderType != "" {
		// The provider's own coding after the standard ones.
		b = append(b, ft.head...)
		b = append(b, `,{"system":`...)
		b = appendString(b, ps.providerType)
		b = append(b, `,"code":`...)
		b = appendString(b, s.ProviderType)
		b = append(b, '}')
		b = append(b, ft.tail...)
	} else {
		b = append(b, ft.codes...)
	}
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
	if selfMeasured(s) {
		b = append(b, `,"performer":[{"reference":`...)
		b = appendString(b, link.Patient)
		b = append(b, `}]`...)
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
	r := ohx.Resource{Type: "Observation", ID: id, Identifier: ident, DataType: s.Type, JSON: bufs.Keep(b)}
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

// buffers hands out the buffers the fast path writes resources' JSON into:
// a slab of the Transform call, or the engine's ohx.Arena (Batch.Arena),
// which it reuses for later batches.
type buffers interface {
	// Buffer returns an empty buffer with room for at least n bytes (the
	// caller's upper bound), to be appended to and passed to Keep.
	Buffer(n int) []byte
	// Keep takes the buffer out of the free memory and returns it with
	// its capacity cut at its length.
	Keep(b []byte) []byte
}

var (
	_ buffers = (*slab)(nil)
	_ buffers = (*ohx.Arena)(nil)
)

// slabChunk is the size of the chunks a slab cuts buffers from: large enough
// that a batch of Observations costs a few allocations, small enough that
// the unused end of the last chunk stays a small part of a batch.
const slabChunk = 64 << 10

// slab hands out the JSON buffers of the resources of one Transform call
// from shared chunks, when the caller gave no ohx.Arena: one allocation per
// chunk instead of one per resource, and no buffer rounded up to a size
// class. Each buffer is handed out with its capacity cut at its length, so
// an append by whoever holds a resource copies instead of writing into the
// next one. Chunks are never reused: a resource's JSON stays valid as long as
// it is referenced. A slab is used by one goroutine; the nil *slab
// allocates each buffer on its own.
type slab struct {
	buf []byte // the current chunk: handed out up to len, free up to cap
	// left estimates how many more buffers the call needs, so the last
	// chunk is not larger than they are.
	left int
}

// Buffer implements buffers.
func (sl *slab) Buffer(n int) []byte {
	if sl == nil {
		return make([]byte, 0, n)
	}
	if cap(sl.buf)-len(sl.buf) < n {
		sl.buf = make([]byte, 0, max(n, min(slabChunk, n*max(sl.left, 1))))
	}
	return sl.buf[len(sl.buf):len(sl.buf)]
}

// Keep implements buffers. A buffer that outgrew the room Buffer gave was
// reallocated by append and is returned as it is.
func (sl *slab) Keep(b []byte) []byte {
	if sl == nil {
		return b
	}
	if sl.left > 0 {
		sl.left--
	}
	// append reallocates only past the capacity, so a buffer that still
	// fits is the chunk's free part.
	if len(b) <= cap(sl.buf)-len(sl.buf) {
		sl.buf = sl.buf[:len(sl.buf)+len(b)]
	}
	return b[:len(b):len(b)]
}
