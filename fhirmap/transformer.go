package fhirmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// DefaultBaseURI is the base of every identifier system, code system and
// meta.source value ohx owns, unless Config.BaseURI says otherwise.
const DefaultBaseURI = "urn:ohx"

// Config configures a Transformer. The zero value is usable.
type Config struct {
	// BaseURI is the base of the systems ohx owns, e.g. "urn:ohx" gives
	// identifier systems such as "urn:ohx:withings:observation". It must be an
	// absolute URI without spaces, query or fragment, and must not end in ":"
	// or "/". Empty means DefaultBaseURI.
	BaseURI string
	// Organization, when set, is a literal reference ("Organization/123") to
	// the organization named as the Provenance agent. When empty the agent is
	// the ohx software Device, which is then published before the first
	// Provenance of each Transform call or stream.
	Organization string
	// SoftwareVersion is written as the version of the ohx software Device.
	SoftwareVersion string
	// Now returns the current time, used only for Provenance.recorded. Nil
	// means time.Now.
	Now func() time.Time
	// NoProvenance disables the Provenance resources (and the software
	// Device that is their agent).
	NoProvenance bool
	// LogicalReferences makes every reference between resources ohx emits a
	// logical reference by business identifier ({"type":"Device",
	// "identifier":{…}}) instead of a literal "Device/{id}", for publishers
	// that write with conditional creates or updates, where the server
	// assigns ids: an hour's Provenance names resources that earlier
	// publisher calls wrote, whose server ids the publisher does not know.
	LogicalReferences bool
	// Version is the FHIR release the Transformer writes: R5 (the zero
	// value) or R4. R4 resources are the R5 mapping converted by package
	// fhirmap/r4 (no DeviceAssociation: the Device names its patient; US Core
	// vital-signs profiles claimed where met) and carry
	// Resource.FHIRVersion = ohx.R4.
	Version ohx.FHIRVersion
}

// Transformer maps ohx batches to FHIR R5 resources, or R4 ones (see
// Config.Version). It implements
// ohx.Transformer and is safe for concurrent use.
type Transformer struct {
	base    string
	sysCode string
	cfg     Config
	now     func() time.Time

	fastCodes map[ohx.DataType]*fastType
	cache     caches
}

var _ ohx.Transformer = (*Transformer)(nil)

// New returns a Transformer for cfg, or an error when the base URI or the
// organization reference is malformed.
func New(cfg Config) (*Transformer, error) {
	base := cfg.BaseURI
	if base == "" {
		base = DefaultBaseURI
	}
	if strings.ContainsAny(base, " \t\r\n?#") || !strings.Contains(base, ":") ||
		strings.HasSuffix(base, ":") || strings.HasSuffix(base, "/") {
		return nil, errors.New("fhirmap: BaseURI must be an absolute URI without spaces, query or fragment and without a trailing ':' or '/'")
	}
	if err := checkVersion(cfg.Version); err != nil {
		return nil, err
	}
	if cfg.Organization != "" && !strings.HasPrefix(cfg.Organization, "Organization/") {
		return nil, errors.New("fhirmap: Organization must be a reference of the form Organization/{id}")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	t := &Transformer{base: base, sysCode: base + ":code", cfg: cfg, now: now}
	if err := t.buildFastCodes(); err != nil {
		return nil, err
	}
	return t, nil
}

// BaseURI returns the base URI of the systems this transformer writes.
func (t *Transformer) BaseURI() string { return t.base }

// IdentifierSystem returns the business identifier system of a resource kind
// ("observation", "diagnostic-report", "device", "device-association",
// "provenance") for a provider: {BaseURI}:{provider}:{kind}.
func (t *Transformer) IdentifierSystem(provider, kind string) string {
	return t.base + ":" + provider + ":" + kind
}

// ProviderTypeSystem returns the code system of a provider's own names of
// its measurements (Sample.ProviderType), {BaseURI}:{provider}:type, e.g.
// urn:ohx:withings:type#1 for a Withings weight: the provider's coding
// beside the standard one.
func (t *Transformer) ProviderTypeSystem(provider string) string {
	return t.base + ":" + provider + ":type"
}

// CodeSystem returns the code system ohx owns, {BaseURI}:code, used where no
// standard code exists.
func (t *Transformer) CodeSystem() string { return t.sysCode }

// ref returns the reference to a resource ohx emits: literal "Type/id", or,
// with Config.LogicalReferences, a logical reference by its business identifier.
func (t *Transformer) ref(typ, id, system, value string) r5.Reference {
	if t.cfg.LogicalReferences && system != "" && value != "" {
		return r5.Reference{Type: ptr(typ), Identifier: &r5.Identifier{System: ptr(system), Value: ptr(value)}}
	}
	return r5.Reference{Reference: ptr(typ + "/" + id)}
}

// ErrNoPatient is returned when a batch's link has no patient reference.
var ErrNoPatient = errors.New("fhirmap: link has no patient reference")

// Transform maps a batch: every device to a Device and a DeviceAssociation,
// every sample to an Observation (an ECG also to a DiagnosticReport), and adds
// one Provenance per data type of the batch. The same input always yields the
// same resource ids.
//
// The JSON of the Observations of one call shares a few chunks of memory,
// each resource's with its capacity cut at its length: b.Arena's when it is
// set (the engine's, reused once the resources were published; see
// ohx.Arena), else chunks of the call's own.
func (t *Transformer) Transform(ctx context.Context, b ohx.Batch) ([]ohx.Resource, error) {
	if b.Link.Patient == "" {
		return nil, ErrNoPatient
	}
	if b.Link.Provider == "" {
		return nil, errors.New("fhirmap: link has no provider")
	}
	out := b.Arena.Resources(len(b.Samples) + 2*len(b.Devices) + 4)
	prov := newProvenanceSet()
	for i := range b.Devices {
		rs, err := t.device(&b.Link, &b.Devices[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		prov.add("device", rs...)
	}
	var sink func(*ohx.Sample, ohx.Resource) *provGroup
	if !t.cfg.NoProvenance {
		sink = func(s *ohx.Sample, r ohx.Resource) *provGroup { return prov.addSample(provenanceKind(s), s, r) }
	}
	// The Observations' JSON shares a few chunks: the engine's arena, which
	// it reuses, or a slab of this call.
	var bufs buffers = b.Arena
	if b.Arena == nil {
		bufs = &slab{left: len(b.Samples)}
	}
	out, err := t.mapSamples(ctx, &b.Link, b.Samples, out, sink, bufs)
	if err != nil {
		return nil, err
	}
	if !t.cfg.NoProvenance && len(out) > 0 {
		rs, err := t.provenance(&b.Link, prov.groups, true)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// mapSamples appends the resources of samples to out: an Observation per
// sample, then the DiagnosticReport of each ECG. sink, when set, is told of
// every sample's Observation and returns the Provenance group that covers it,
// which the ECG's report joins. The fast path writes the Observations' JSON
// into buffers of bufs.
func (t *Transformer) mapSamples(ctx context.Context, link *ohx.Link, samples []ohx.Sample, out []ohx.Resource, sink func(*ohx.Sample, ohx.Resource) *provGroup, bufs buffers) ([]ohx.Resource, error) {
	var ecgs []ecgPending
	var groups map[string]string // group -> heart-rate companion Observation id
	for i := range samples {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s := &samples[i]
		r, err := t.sample(link, s, bufs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		var g *provGroup
		if sink != nil {
			g = sink(s, r)
		}
		if s.Type == ohx.ECG && s.Aggregate == nil {
			ecgs = append(ecgs, ecgPending{sample: s, obs: r, prov: g})
		}
		if s.Type == ohx.HeartRate && s.Group != "" && s.CompanionOf == ohx.ECG {
			if groups == nil {
				groups = map[string]string{}
			}
			groups[s.Group] = r.ID
		}
	}
	for _, e := range ecgs {
		r, err := t.ecgReport(link, e.sample, e.obs.ID, groups[e.sample.Group])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if e.prov != nil {
			e.prov.add(r)
		}
	}
	return out, nil
}

type ecgPending struct {
	sample *ohx.Sample
	obs    ohx.Resource
	prov   *provGroup
}

// Sample maps one sample to its Observation resource.
func (t *Transformer) Sample(link *ohx.Link, s *ohx.Sample) (ohx.Resource, error) {
	return t.sample(link, s, (*slab)(nil))
}

// sample is Sample with the fast path's JSON written into a buffer of bufs.
func (t *Transformer) sample(link *ohx.Link, s *ohx.Sample, bufs buffers) (ohx.Resource, error) {
	if link.Patient == "" {
		return ohx.Resource{}, ErrNoPatient
	}
	if ft := t.fastEligible(s); ft != nil { // both releases (see sampleR4)
		return t.fastQuantityIn(link, s, ft, bufs)
	}
	if t.r4() {
		return t.sampleR4(link, s)
	}
	o, err := t.Observation(link, s)
	if err != nil {
		return ohx.Resource{}, err
	}
	return t.resource("Observation", o.ID, s.Type, o.Identifier[0], o)
}

func (t *Transformer) resource(typ, id string, dt ohx.DataType, ident r5.Identifier, v interface {
	Validate() error
	MarshalJSON() ([]byte, error)
},
) (ohx.Resource, error) {
	if err := v.Validate(); err != nil {
		return ohx.Resource{}, err
	}
	if t.r4() {
		return t.resourceR4(typ, id, dt, ident, v)
	}
	data, err := v.MarshalJSON()
	if err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: marshal %s: %w", typ, err)
	}
	return ohx.Resource{Type: typ, ID: id, Identifier: str(ident.System) + "|" + str(ident.Value), DataType: dt, JSON: json.RawMessage(data)}, nil
}

func (t *Transformer) codeable(codes []code, text string) r5.CodeableConcept {
	cc := r5.CodeableConcept{Coding: make([]r5.Coding, len(codes))}
	for i, c := range codes {
		sys := c.System
		if sys == ownCode {
			sys = t.sysCode
		}
		cc.Coding[i] = r5.Coding{System: ptr(sys), Code: ptr(c.Code), Display: ptr(c.Display)}
	}
	if text != "" {
		cc.Text = ptr(text)
	}
	return cc
}

func category(cat string) []r5.CodeableConcept {
	return []r5.CodeableConcept{{Coding: []r5.Coding{{System: ptr(SystemObservationCategory), Code: ptr(cat), Display: ptr(categoryDisplay[cat])}}}}
}

// quantity builds a UCUM Quantity whose value is rounded to d decimals (see
// decimals; json.Number keeps the written form exact).
func quantity(v float64, unit string, d int) *r5.Quantity {
	n := json.Number(formatDecimal(v, d))
	return &r5.Quantity{Value: &n, Unit: ptr(unit), System: ptr(ucum), Code: ptr(unit)}
}

// dayTotal reports whether s is a provider's total of a count over one day
// (Withings getactivity's civil day, Oura's day): a plain sample of a type
// with a day mapping that spans 23 to 25 hours (a civil day with a daylight
// saving change has 23 or 25). The aggregator never puts it into an hour.
func dayTotal(m *mapping, s *ohx.Sample) bool {
	if m.Day == nil || s.Aggregate != nil {
		return false
	}
	d := s.End.Sub(s.Start)
	return d >= 23*time.Hour && d <= 25*time.Hour
}

func number(v float64) *json.Number {
	n := json.Number(formatFloat(v))
	return &n
}

func dateTime(ts time.Time) *string {
	s := ts.Format(time.RFC3339Nano)
	return &s
}

func instant(ts time.Time) *string {
	s := ts.UTC().Format(time.RFC3339Nano)
	return &s
}

// status is final for every delivery. ohx never writes amended: the mapping
// is stateless and cannot know whether a destination already holds an
// earlier final version, and a provider's modified time later than its
// creation time says only that the provider changed its record (Withings and
// Google also touch records that no one corrected). A correction reaches the
// destination as an update of the same resource id, whose version history
// shows it. See docs/decisions.md ("Observation status").
func status(*ohx.Sample) r5.ObservationStatus {
	return r5.ObservationFinal
}

func (t *Transformer) meta(provider string) *r5.Meta {
	return &r5.Meta{Source: ptr(t.base + ":" + provider)}
}

// Observation builds the Observation of one sample with the generic path.
func (t *Transformer) Observation(link *ohx.Link, s *ohx.Sample) (*r5.Observation, error) {
	m, ok := tableIndex[s.Type]
	if !ok {
		return nil, fmt.Errorf("fhirmap: no mapping for data type %q", s.Type)
	}
	provider := s.Provider
	if provider == "" {
		provider = link.Provider
	}
	id := SampleID(link, s)
	o := &r5.Observation{
		ID:         id,
		Meta:       t.meta(provider),
		Identifier: []r5.Identifier{{System: ptr(t.IdentifierSystem(provider, "observation")), Value: ptr(id)}},
		Status:     status(s),
		Category:   category(m.Category),
		Code:       t.codeable(m.Codes, m.Text),
		Subject:    &r5.Reference{Reference: ptr(link.Patient)},
	}
	day := dayTotal(m, s)
	if day {
		o.Code = t.codeable(m.Day.Codes, m.Day.Text)
	}
	if s.ProviderType != "" {
		o.Code.Coding = append(o.Code.Coding, r5.Coding{System: ptr(t.ProviderTypeSystem(provider)), Code: ptr(s.ProviderType)})
	}
	if s.RecordID != "" {
		o.Identifier = append(o.Identifier, r5.Identifier{System: ptr(t.IdentifierSystem(provider, "record")), Value: ptr(s.RecordID)})
	}
	switch {
	case dateOnly(s):
		o.EffectiveDateTime = ptr(s.LocalStart().Format(time.DateOnly))
	case s.Instant():
		o.EffectiveDateTime = dateTime(s.LocalStart())
	default:
		o.EffectivePeriod = &r5.Period{Start: dateTime(s.LocalStart()), End: dateTime(s.LocalEnd())}
	}
	if !s.Modified.IsZero() {
		o.Issued = instant(s.Modified)
	} else if !s.Created.IsZero() {
		o.Issued = instant(s.Created)
	}
	if selfMeasured(s) {
		o.Performer = []r5.Reference{{Reference: ptr(link.Patient)}}
	}
	switch {
	case s.DeviceID != "":
		r := t.ref("Device", t.deviceID(provider, s.DeviceID), t.IdentifierSystem(provider, "device"), s.DeviceID)
		o.Device = &r
	case s.DeviceName != "":
		o.Device = &r5.Reference{Display: ptr(s.DeviceName)}
	}
	switch {
	case s.Aggregate != nil:
		// The aggregator marks its buckets derived; ohx, not the provider,
		// derived them.
		o.Note = []r5.Annotation{{Text: "Computed by ohx from the provider's samples of the period."}}
	case s.Recording == ohx.RecordedByUser || s.Recording == ohx.RecordedDerived || s.Recording == ohx.RecordedAmbiguous:
		o.Note = []r5.Annotation{{Text: recordingNote[s.Recording]}}
	}
	if st := statisticOf(m, provider, s); st.Text != "" && s.Aggregate == nil {
		o.Method = t.statisticMethod(st)
	}
	if s.CompanionOf == ohx.ECG && s.Group != "" {
		// The heart rate an ECG recording measured: derived from the waveform.
		ecg := *s
		ecg.Type = ohx.ECG
		ecgID := SampleID(link, &ecg)
		o.DerivedFrom = []r5.Reference{t.ref("Observation", ecgID, t.IdentifierSystem(provider, "observation"), ecgID)}
	}
	unit := valueUnit(s)
	if s.Aggregate != nil {
		t.aggregate(o, s, unit)
		o.Meta.Tag = []r5.Coding{t.aggregateTag()}
		o.Meta.Profile = claimProfiles(o, m)
		return o, nil
	}
	dec := decimalsOf(s.Type)
	info, _ := s.Type.Info()
	switch info.Shape {
	case ohx.ShapeQuantity:
		o.ValueQuantity = quantity(s.Value, unit, dec)
		if day {
			o.ValueQuantity.Unit, o.ValueQuantity.Code = ptr(m.Day.UnitText), ptr(m.Day.Unit)
		}
		for _, c := range s.Components {
			cu := c.Unit
			if cu == "" && c.Code == ohx.ComponentBaseline && unit == "K" {
				cu = "Cel" // the baseline a difference is taken from is absolute
			}
			o.Component = append(o.Component, r5.ObservationComponent{Code: t.componentCode(m, c.Code), ValueQuantity: quantity(c.Value, unitOr(cu, unit), dec)})
		}
	case ohx.ShapeComponents:
		for _, c := range s.Components {
			if s.Type == ohx.SleepSession && c.Code == ohx.ComponentSleepTotal {
				o.ValueQuantity = quantity(c.Value, unitOr(c.Unit, unit), dec)
				continue
			}
			o.Component = append(o.Component, r5.ObservationComponent{Code: t.componentCode(m, c.Code), ValueQuantity: quantity(c.Value, unitOr(c.Unit, unit), dec)})
		}
	case ohx.ShapeWaveform:
		sd, lead, err := waveform(s)
		if err != nil {
			return nil, err
		}
		o.ValueSampledData = sd
		if lead != cECGLeadI {
			o.Code = t.codeable([]code{lead}, "ECG lead "+s.Waveform.Lead)
		}
	case ohx.ShapeSeries:
		sd, err := series(s.Series, unit, dec)
		if err != nil {
			return nil, fmt.Errorf("fhirmap: %s: %w", s.Type, err)
		}
		o.ValueSampledData = sd
	}
	o.Meta.Profile = claimProfiles(o, m)
	return o, nil
}

var recordingNote = map[ohx.RecordingMethod]string{
	ohx.RecordedByUser:    "Entered by the user.",
	ohx.RecordedDerived:   "Derived by the provider from other measurements.",
	ohx.RecordedAmbiguous: "Measured by a device that may be shared with another person.",
}

func unitOr(u, def string) string {
	if u != "" {
		return u
	}
	return def
}

// componentCode codes a component; a component the table does not know (a
// custom provider's) keeps its value under our own code "component-{code}"
// rather than failing the batch.
func (t *Transformer) componentCode(m *mapping, c string) r5.CodeableConcept {
	if cm := m.component(c); cm != nil {
		return t.codeable(cm.Codes, cm.Text)
	}
	return t.codeable([]code{own("component-"+c, c)}, c)
}

func (m *mapping) component(c string) *componentMap {
	for i := range m.Components {
		if m.Components[i].Component == c {
			return &m.Components[i]
		}
	}
	return nil
}

// aggregate fills an hourly aggregate: the natural statistic as the value,
// named in method, and the other statistics the type's aggregation carries
// (ohx.Aggregation.Statistics: minimum, maximum and count of a rate; count
// of a sum) as components coded from observation-statistics; the raw series,
// if kept, as SampledData. A mean has one decimal more than the type's
// values (see decimals).
func (t *Transformer) aggregate(o *r5.Observation, s *ohx.Sample, unit string) {
	a := s.Aggregate
	info, _ := s.Type.Info()
	dec := decimalsOf(s.Type)
	stat := statAverage
	o.ValueQuantity = quantity(s.Value, unit, meanDecimals(s.Type))
	if info.Aggregation == ohx.AggregateSum {
		stat = statSum
		o.ValueQuantity = quantity(s.Value, unit, dec)
	}
	o.Method = &r5.CodeableConcept{Coding: []r5.Coding{{System: ptr(SystemObservationStatistics), Code: ptr(stat), Display: ptr(statDisplay[stat])}},
		Text: ptr("Hourly " + strings.ToLower(statDisplay[stat]))}
	comp := func(c string) r5.CodeableConcept {
		return r5.CodeableConcept{Coding: []r5.Coding{{System: ptr(SystemObservationStatistics), Code: ptr(c), Display: ptr(statDisplay[c])}}}
	}
	if info.Aggregation.Has(ohx.StatisticMin) {
		o.Component = append(o.Component, r5.ObservationComponent{Code: comp(statMinimum), ValueQuantity: quantity(a.Min, unit, dec)})
	}
	if info.Aggregation.Has(ohx.StatisticMax) {
		o.Component = append(o.Component, r5.ObservationComponent{Code: comp(statMaximum), ValueQuantity: quantity(a.Max, unit, dec)})
	}
	o.Component = append(o.Component, r5.ObservationComponent{Code: comp(statCount), ValueInteger: ptr(int64(a.Count))})
	if a.Raw != nil && len(a.Raw.Values) > 0 {
		if sd, err := series(a.Raw, unit, dec); err == nil {
			o.Component = append(o.Component, r5.ObservationComponent{
				Code:             t.codeable([]code{own("raw-series", "Raw values of the aggregation period")}, "Raw values"),
				ValueSampledData: sd,
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// dateOnly reports whether s is a value the provider dates only by a civil
// day: a daily summary (or a point type) that spans exactly one local day,
// [local midnight, next local midnight). Its effectiveDateTime is the date
// alone: the provider measured it during that day's night, not over the
// whole day, and gives no time.
func dateOnly(s *ohx.Sample) bool {
	info, ok := s.Type.Info()
	if !ok || info.Timing == ohx.TimingInterval || s.Aggregate != nil {
		return false
	}
	start, end := s.LocalStart(), s.LocalEnd()
	if start.Hour() != 0 || start.Minute() != 0 || start.Second() != 0 || start.Nanosecond() != 0 ||
		end.Hour() != 0 || end.Minute() != 0 || end.Second() != 0 || end.Nanosecond() != 0 {
		return false
	}
	y, m, d := start.Date()
	ey, em, ed := end.Date()
	ny, nm, nd := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Date()
	return ey == ny && em == nm && ed == nd
}

// selfMeasured reports whether the patient measured or entered s
// themselves: a reading of the patient's own device or the patient's own
// entry. A device that may be shared, a provider's derived value and an
// unknown recording name no performer.
func selfMeasured(s *ohx.Sample) bool {
	return s.Recording == ohx.RecordedByDevice || s.Recording == ohx.RecordedByUser
}

// statisticMethod names the statistic of a provider's daily summary.
func (t *Transformer) statisticMethod(st statistic) *r5.CodeableConcept {
	cc := &r5.CodeableConcept{Text: ptr(st.Text)}
	if st.Code != "" {
		cc.Coding = []r5.Coding{{System: ptr(SystemObservationStatistics), Code: ptr(st.Code), Display: ptr(statDisplay[st.Code])}}
	}
	return cc
}

// aggregateTag marks an Observation ohx computed from several measurements
// (an hourly aggregate), so that a destination can keep it apart from
// charted vital signs: {BaseURI}:tag#aggregate.
func (t *Transformer) aggregateTag() r5.Coding {
	return r5.Coding{System: ptr(t.base + ":tag"), Code: ptr("aggregate"), Display: ptr("Computed by ohx from several measurements")}
}

// AggregateTagSystem returns the meta.tag system of the tag ohx puts on the
// aggregates it computes ({BaseURI}:tag, code "aggregate").
func (t *Transformer) AggregateTagSystem() string { return t.base + ":tag" }

// valueUnit is the UCUM unit of s's value: the sample's, else the catalog's.
// A skin-temperature deviation is a difference: a provider's "Cel" becomes
// "K" (the same number: a difference of 1 °C is 1 K), because UCUM Cel is an
// offset unit that converters read as an absolute temperature.
func valueUnit(s *ohx.Sample) string {
	unit := s.Unit
	if unit == "" {
		info, _ := s.Type.Info()
		unit = info.Unit
	}
	if s.Type == ohx.SkinTemperatureDeviation && unit == "Cel" {
		unit = "K"
	}
	return unit
}
