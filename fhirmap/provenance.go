package fhirmap

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// maxEntities caps the provider record ids listed as Provenance entities; a
// batch with more names its source by a hash instead.
const maxEntities = 1000

type provGroup struct {
	key        string
	targets    []ohx.Resource // Type, ID and Identifier only
	records    []string
	seen       map[string]bool
	sum        hash.Hash
	start, end time.Time
}

type provenanceSet struct {
	groups []*provGroup
	index  map[string]*provGroup
}

func newProvenanceSet() *provenanceSet {
	return &provenanceSet{index: map[string]*provGroup{}}
}

func (p *provenanceSet) group(key string) *provGroup {
	g := p.index[key]
	if g == nil {
		g = &provGroup{key: key, seen: map[string]bool{}, sum: sha256.New()}
		p.index[key] = g
		p.groups = append(p.groups, g)
	}
	return g
}

func (p *provenanceSet) add(key string, rs ...ohx.Resource) {
	g := p.group(key)
	for i := range rs {
		g.targets = append(g.targets, ohx.Resource{Type: rs[i].Type, ID: rs[i].ID, Identifier: rs[i].Identifier})
		g.sum.Write(rs[i].JSON)
	}
}

func (p *provenanceSet) addSample(key string, s *ohx.Sample, r ohx.Resource) {
	p.add(key, r)
	g := p.index[key]
	if s.RecordID != "" && !g.seen[s.RecordID] {
		g.seen[s.RecordID] = true
		g.records = append(g.records, s.RecordID)
	}
	if g.start.IsZero() || s.Start.Before(g.start) {
		g.start = s.Start
	}
	if s.End.After(g.end) {
		g.end = s.End
	}
}

// SoftwareDeviceID returns the id of the Device that stands for the ohx
// software as the Provenance agent.
func (t *Transformer) SoftwareDeviceID() string {
	return DeterministicID("software", t.base)
}

// ProvenanceID returns the deterministic id of the Provenance of one batch:
// UUID v5 over link, data type ("device" for device syncs), the fetch window
// and the time span of the batch's samples inside it, so a re-run of the same
// window replaces it and the batches of one window do not overwrite each other.
func ProvenanceID(linkID, key string, w ohx.Window, spanStart, spanEnd time.Time) string {
	f := func(ts time.Time) string {
		if ts.IsZero() {
			return ""
		}
		return ts.UTC().Format(time.RFC3339Nano)
	}
	return DeterministicID("provenance", linkID, key, f(w.Start), f(w.End), f(spanStart), f(spanEnd))
}

func (t *Transformer) softwareDevice() (ohx.Resource, error) {
	d := &r5.Device{
		ID:          t.SoftwareDeviceID(),
		Identifier:  []r5.Identifier{{System: ptr(t.base + ":software"), Value: ptr("ohx")}},
		Status:      r5.DeviceActive,
		DisplayName: ptr("ohx"),
		Name:        []r5.DeviceName{{Value: "ohx", Type: r5.NameRegistered, Display: ptr(true)}},
		Type:        []r5.CodeableConcept{t.codeable([]code{own("software", "Software")}, "Software")},
	}
	if t.cfg.SoftwareVersion != "" {
		d.Version = []r5.DeviceVersion{{Value: t.cfg.SoftwareVersion}}
	}
	return t.resource("Device", d.ID, "", d.Identifier[0], d)
}

func (t *Transformer) provenance(link *ohx.Link, w ohx.Window, set *provenanceSet) ([]ohx.Resource, error) {
	var out []ohx.Resource
	agent := t.ref("Device", t.SoftwareDeviceID(), t.base+":software", "ohx")
	if t.cfg.Organization != "" {
		agent = r5.Reference{Reference: ptr(t.cfg.Organization)}
	} else {
		sw, err := t.softwareDevice()
		if err != nil {
			return nil, err
		}
		out = append(out, sw)
	}
	recorded := t.now().UTC().Truncate(time.Millisecond)
	for _, g := range set.groups {
		win := w
		if g.key == "device" {
			win = ohx.Window{}
		}
		id := ProvenanceID(LinkKey(link), g.key, win, g.start, g.end)
		p := &r5.Provenance{
			ID:       id,
			Meta:     t.meta(link.Provider),
			Recorded: instant(recorded),
			Patient:  &r5.Reference{Reference: ptr(link.Patient)},
			Agent: []r5.ProvenanceAgent{{
				Type: &r5.CodeableConcept{Coding: []r5.Coding{{System: ptr(SystemProvenanceParticipantType), Code: ptr("assembler"), Display: ptr("Assembler")}}},
				Who:  agent,
			}},
		}
		for _, r := range g.targets {
			sys, val, _ := strings.Cut(r.Identifier, "|")
			p.Target = append(p.Target, t.ref(r.Type, r.ID, sys, val))
		}
		switch {
		case !w.Empty() && g.key != "device":
			p.OccurredPeriod = &r5.Period{Start: instant(w.Start), End: instant(w.End)}
		case !g.start.IsZero():
			p.OccurredPeriod = &r5.Period{Start: instant(g.start), End: instant(g.end)}
		}
		if len(g.records) > 0 && len(g.records) <= maxEntities {
			sys := t.IdentifierSystem(link.Provider, "record")
			for _, rec := range g.records {
				p.Entity = append(p.Entity, r5.ProvenanceEntity{Role: "source", What: r5.Reference{Identifier: &r5.Identifier{System: ptr(sys), Value: ptr(rec)}}})
			}
		} else {
			p.Entity = []r5.ProvenanceEntity{{Role: "source", What: r5.Reference{
				Identifier: &r5.Identifier{System: ptr(t.base + ":sha256"), Value: ptr(hex.EncodeToString(g.sum.Sum(nil)))},
				Display:    ptr("SHA-256 of the mapped resources"),
			}}}
		}
		r, err := t.resource("Provenance", id, ohx.DataType(""), r5.Identifier{}, p)
		if err != nil {
			return nil, err
		}
		r.Identifier = "" // Provenance has no identifier element; it is written by id.
		out = append(out, r)
	}
	return out, nil
}
