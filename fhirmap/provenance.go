package fhirmap

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// maxEntities caps the provider record ids listed as Provenance entities; a
// batch with more lists none (its targets carry the record ids themselves).
const maxEntities = 1000

// Agent types of the Provenance, from the HL7 code system
// provenance-participant-type (terminology.hl7.org/CodeSystem/provenance-participant-type,
// THO 5.0.0 and 6.0.2 read 2026-12-05):
//   - assembler: "a device that operates independently of an author on
//     custodian's algorithms for data extraction of existing information for
//     purpose of generating a new artifact": ohx, which reads the provider's
//     records and writes FHIR resources from them;
//   - author: "originates the resource and therefore has responsibility for
//     the information given": the wearable or scale that measured the data;
//   - custodian: "accountable for maintaining a true and accurate copy of the
//     original record": the provider whose cloud holds the records ohx read.
var (
	agentAssembler = code{System: SystemProvenanceParticipantType, Code: "assembler", Display: "Assembler"}
	agentAuthor    = code{System: SystemProvenanceParticipantType, Code: "author", Display: "Author"}
	agentCustodian = code{System: SystemProvenanceParticipantType, Code: "custodian", Display: "Custodian"}
)

// providerDisplay names the providers ohx ships; another provider is named
// by its own name.
var providerDisplay = map[string]string{
	"withings": "Withings",
	"fitbit":   "Google Health API (Fitbit)",
	"oura":     "Oura",
}

type provGroup struct {
	key        string
	targets    []provTarget
	records    []string
	seen       map[string]bool
	devices    [][2]string // provider and provider device id the samples name
	sum        hash.Hash
	start, end time.Time
}

// provTarget is what a Provenance's target list takes of a resource: less
// than half an ohx.Resource, held for every resource of a batch.
type provTarget struct {
	typ, id, identifier string
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
		g.targets = append(g.targets, provTarget{typ: rs[i].Type, id: rs[i].ID, identifier: rs[i].Identifier})
		writeTarget(g.sum, &rs[i])
	}
}

func (p *provenanceSet) addSample(key string, s *ohx.Sample, r ohx.Resource) {
	p.add(key, r)
	g := p.index[key]
	if s.RecordID != "" && !g.seen[s.RecordID] {
		g.seen[s.RecordID] = true
		g.records = append(g.records, s.RecordID)
	}
	if d := [2]string{s.Provider, s.DeviceID}; s.DeviceID != "" && !slices.Contains(g.devices, d) {
		g.devices = append(g.devices, d)
	}
	if g.start.IsZero() || s.Start.Before(g.start) {
		g.start = s.Start
	}
	if s.End.After(g.end) {
		g.end = s.End
	}
}

// writeTarget feeds one target into the digest a Provenance id is made of:
// its type, id and JSON, each length-prefixed so that no two target lists
// give the same input.
func writeTarget(h hash.Hash, r *ohx.Resource) {
	var n [8]byte
	for _, part := range [][]byte{[]byte(r.Type), []byte(r.ID), r.JSON} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
}

// SoftwareDeviceID returns the id of the Device that stands for the ohx
// software as the Provenance agent.
func (t *Transformer) SoftwareDeviceID() string {
	return DeterministicID("software", t.base)
}

// ProvenanceID returns the deterministic id of the Provenance of one batch's
// resources of one kind (a data type, or "device" for device syncs): UUID v5
// over the link, the kind and a SHA-256 of the targets (type, id and JSON, in
// order). It follows only from what the batch holds: a re-sync that maps the
// same data to the same resources rewrites the same Provenance whatever its
// window, trigger or time, and changed data gets a Provenance of its own.
func ProvenanceID(linkKey, kind string, targets []ohx.Resource) string {
	h := sha256.New()
	for i := range targets {
		writeTarget(h, &targets[i])
	}
	return provenanceID(linkKey, kind, h)
}

func provenanceID(linkKey, kind string, sum hash.Hash) string {
	return DeterministicID("provenance", linkKey, kind, hex.EncodeToString(sum.Sum(nil)))
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

// providerAgent names the provider that keeps the original records, by our
// own identifier system {BaseURI}:provider (ohx writes no Organization for it).
func (t *Transformer) providerAgent(provider string) r5.ProvenanceAgent {
	name := providerDisplay[provider]
	if name == "" {
		name = provider
	}
	return r5.ProvenanceAgent{
		Type: &r5.CodeableConcept{Coding: []r5.Coding{t.coding(agentCustodian)}},
		Who: r5.Reference{
			Type:       ptr("Organization"),
			Identifier: &r5.Identifier{System: ptr(t.base + ":provider"), Value: ptr(provider)},
			Display:    ptr(name),
		},
	}
}

func (t *Transformer) coding(c code) r5.Coding {
	return r5.Coding{System: ptr(c.System), Code: ptr(c.Code), Display: ptr(c.Display)}
}

func (t *Transformer) provenance(link *ohx.Link, set *provenanceSet) ([]ohx.Resource, error) {
	var out []ohx.Resource
	assembler := t.ref("Device", t.SoftwareDeviceID(), t.base+":software", "ohx")
	if t.cfg.Organization != "" {
		assembler = r5.Reference{Reference: ptr(t.cfg.Organization)}
	} else {
		sw, err := t.softwareDevice()
		if err != nil {
			return nil, err
		}
		out = append(out, sw)
	}
	recorded := t.now().UTC().Truncate(time.Millisecond)
	for _, g := range set.groups {
		id := provenanceID(LinkKey(link), g.key, g.sum)
		p := &r5.Provenance{
			ID:       id,
			Meta:     t.meta(link.Provider),
			Recorded: instant(recorded),
			Patient:  &r5.Reference{Reference: ptr(link.Patient)},
			Agent: []r5.ProvenanceAgent{{
				Type: &r5.CodeableConcept{Coding: []r5.Coding{t.coding(agentAssembler)}},
				Who:  assembler,
			}},
		}
		devices := slices.Clone(g.devices)
		slices.SortFunc(devices, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
		for _, d := range devices {
			provider := d[0]
			if provider == "" {
				provider = link.Provider
			}
			p.Agent = append(p.Agent, r5.ProvenanceAgent{
				Type: &r5.CodeableConcept{Coding: []r5.Coding{t.coding(agentAuthor)}},
				Who:  t.ref("Device", t.deviceID(provider, d[1]), t.IdentifierSystem(provider, "device"), d[1]),
			})
		}
		p.Agent = append(p.Agent, t.providerAgent(link.Provider))
		if len(g.targets) > 0 {
			p.Target = make([]r5.Reference, 0, len(g.targets))
		}
		for _, r := range g.targets {
			sys, val, _ := strings.Cut(r.identifier, "|")
			p.Target = append(p.Target, t.ref(r.typ, r.id, sys, val))
		}
		if !g.start.IsZero() {
			p.OccurredPeriod = &r5.Period{Start: instant(g.start), End: instant(g.end)}
		}
		if len(g.records) > 0 && len(g.records) <= maxEntities {
			sys := t.IdentifierSystem(link.Provider, "record")
			for _, rec := range g.records {
				p.Entity = append(p.Entity, r5.ProvenanceEntity{Role: "source", What: r5.Reference{Identifier: &r5.Identifier{System: ptr(sys), Value: ptr(rec)}}})
			}
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
