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

// provGroup is what one Provenance says: the resources it covers (targets)
// and what they came from.
type provGroup struct {
	kind    string
	targets []provTarget
	records []string
	seen    map[string]bool
	devices [][2]string // provider and provider device id the samples name
	// sum digests the targets of a group whose id follows from its content;
	// nil for a bucket's group, whose id follows from the bucket.
	sum        hash.Hash
	start, end time.Time // the span of the samples
	bucket     ohx.Window
}

// provTarget is what a Provenance's target list takes of a resource: less
// than half an ohx.Resource, held for every resource of a batch.
type provTarget struct {
	typ, id, identifier string
}

func (g *provGroup) add(rs ...ohx.Resource) {
	for i := range rs {
		g.targets = append(g.targets, provTarget{typ: rs[i].Type, id: rs[i].ID, identifier: rs[i].Identifier})
		if g.sum != nil {
			writeTarget(g.sum, &rs[i])
		}
	}
}

func (g *provGroup) addSample(s *ohx.Sample, r ohx.Resource) {
	g.add(r)
	if s.RecordID != "" && !g.seen[s.RecordID] {
		if g.seen == nil {
			g.seen = map[string]bool{}
		}
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

// provenanceKind is the kind of the Provenance that covers a sample's
// resources: its data type, or, for linked data (the heart rate of an ECG),
// the type it was read with.
func provenanceKind(s *ohx.Sample) string {
	if s.CompanionOf != "" {
		return string(s.CompanionOf)
	}
	return string(s.Type)
}

// provenanceSet groups one batch's resources by kind, each group's id
// following from its content.
type provenanceSet struct {
	groups []*provGroup
	index  map[string]*provGroup
}

func newProvenanceSet() *provenanceSet {
	return &provenanceSet{index: map[string]*provGroup{}}
}

func (p *provenanceSet) group(kind string) *provGroup {
	g := p.index[kind]
	if g == nil {
		g = &provGroup{kind: kind, sum: sha256.New()}
		p.index[kind] = g
		p.groups = append(p.groups, g)
	}
	return g
}

func (p *provenanceSet) add(kind string, rs ...ohx.Resource) {
	p.group(kind).add(rs...)
}

func (p *provenanceSet) addSample(kind string, s *ohx.Sample, r ohx.Resource) *provGroup {
	g := p.group(kind)
	g.addSample(s, r)
	return g
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

// ProvenanceID returns the id of the Provenance that Transform writes for
// one batch's resources of one kind (a data type, or "device" for device
// syncs): UUID v5 over the link, the kind and a SHA-256 of the targets (type,
// id and JSON, in order). It follows only from what the batch holds. A
// stream (Transformer.Stream) gives the Provenance of a whole bucket the id
// BucketProvenanceID instead, and this one to the resources of a bucket it
// read only in part.
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

// BucketProvenanceID returns the id of the Provenance of one kind's
// resources (a data type; the heart rate of an ECG counts as "ecg") in one
// bucket of the grid (an hour of the link's zone): UUID v5 over the link, the
// kind and the bucket's start and end. Every read of the bucket rewrites the
// same Provenance, with the targets the provider holds for it.
func BucketProvenanceID(linkKey, kind string, bucket ohx.Window) string {
	var buf [256]byte
	return newKey(buf[:0], "provenance-bucket").str(linkKey).str(kind).time(bucket.Start).time(bucket.End).id()
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

// provenance returns the Provenance of each group, preceded, when agent is
// set and no Organization is configured, by the ohx software Device that is
// their assembler.
func (t *Transformer) provenance(link *ohx.Link, groups []*provGroup, agent bool) ([]ohx.Resource, error) {
	out := make([]ohx.Resource, 0, len(groups)+1)
	assembler := t.ref("Device", t.SoftwareDeviceID(), t.base+":software", "ohx")
	if t.cfg.Organization != "" {
		assembler = r5.Reference{Reference: ptr(t.cfg.Organization)}
	} else if agent {
		sw, err := t.softwareDevice()
		if err != nil {
			return nil, err
		}
		out = append(out, sw)
	}
	recorded := t.now().UTC().Truncate(time.Millisecond)
	linkKey := LinkKey(link)
	for _, g := range groups {
		id := ""
		if g.sum != nil {
			id = provenanceID(linkKey, g.kind, g.sum)
		} else {
			id = BucketProvenanceID(linkKey, g.kind, g.bucket)
		}
		r, err := t.provenanceOf(link, g, id, recorded, assembler)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (t *Transformer) provenanceOf(link *ohx.Link, g *provGroup, id string, recorded time.Time, assembler r5.Reference) (ohx.Resource, error) {
	meta := t.meta(link.Provider)
	meta.Tag = []r5.Coding{{System: ptr(t.ProvenanceTagSystem()), Code: ptr(id)}}
	p := &r5.Provenance{
		ID:       id,
		Meta:     meta,
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
	// Provenance has no identifier element: its tag names it for the
	// conditional writes (publish searches it with _tag).
	return t.resource("Provenance", id, ohx.DataType(""), r5.Identifier{System: ptr(t.ProvenanceTagSystem()), Value: ptr(id)}, p)
}

// ProvenanceTagSystem returns the system of the meta.tag that names each
// Provenance ohx writes ({BaseURI}:provenance, code: the Provenance's id).
// A Provenance has no identifier element (R4, R5); in the conditional write
// modes, where the server assigns ids, the publisher finds it by this tag
// (_tag={BaseURI}:provenance|{id}), and ohx.Resource.Identifier carries it.
func (t *Transformer) ProvenanceTagSystem() string { return t.base + ":provenance" }
