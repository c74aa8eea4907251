package aggregate

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/internal/hours"
)

// Errors of a stream an aggregator cannot summarize. Both also match
// ohx.ErrPermanent: running the same sync again would fail the same way.
var (
	// ErrOutOfOrder: a sample arrived for an hour of its type that was
	// already emitted (the provider broke the time order of Fetch).
	ErrOutOfOrder = errors.New("aggregate: sample out of time order")
	// ErrMixedUnits: samples of one hour of a type carry different units.
	ErrMixedUnits = errors.New("aggregate: mixed units in one hour")
	// ErrUnknownZone: the link's time zone is not a known IANA zone.
	ErrUnknownZone = errors.New("aggregate: unknown time zone")
)

// Individual is the pass-through aggregator: every sample is published as
// the provider yielded it.
type Individual struct{}

var _ ohx.Aggregator = Individual{}

// Aggregate implements ohx.Aggregator by returning in unchanged.
func (Individual) Aggregate(_ ohx.Link, in iter.Seq2[ohx.Sample, error]) iter.Seq2[ohx.Sample, error] {
	return in
}

// HourlyConfig configures an Hourly aggregator. The zero value aggregates
// every aggregatable type into hours of the link's time zone, without raw
// values.
type HourlyConfig struct {
	// Types are the data types to aggregate; samples of other types pass
	// through. Empty means every type whose catalog Aggregation is not
	// ohx.AggregateNone.
	Types []ohx.DataType
	// Location, when set, is the zone whose whole hours are the buckets,
	// overriding the link's time zone; time.UTC gives UTC hours.
	Location *time.Location
	// KeepRaw keeps each hour's raw values in Aggregate.Raw, for a FHIR
	// valueSampledData.
	KeepRaw bool
	// SeriesOnly lists aggregated types whose spot samples pass through:
	// a sample with a non-empty Group was measured as part of one reading
	// (the pulse a scale took with a weight, a spot SpO2 check), not as part
	// of a series, and is published individually. ForPolicy fills it with
	// the types of the policy's AggregationAuto mode.
	SeriesOnly []ohx.DataType
}

// Hourly summarizes samples into whole hours. It is safe for concurrent use;
// each Aggregate call keeps its own state.
type Hourly struct {
	cfg        HourlyConfig
	aggregate  map[ohx.DataType]ohx.Aggregation
	seriesOnly map[ohx.DataType]bool
	zones      sync.Map // zone name → *time.Location (nil for unknown)
}

var (
	_ ohx.Aggregator    = (*Hourly)(nil)
	_ ohx.CursorLimiter = (*Hourly)(nil)
	_ ohx.BucketAligner = (*Hourly)(nil)
)

// NewHourly checks cfg and returns an hourly aggregator. Asking to aggregate
// a type that cannot be aggregated (an ECG, a weight) is an error.
func NewHourly(cfg HourlyConfig) (*Hourly, error) {
	h := &Hourly{cfg: cfg, aggregate: map[ohx.DataType]ohx.Aggregation{}, seriesOnly: map[ohx.DataType]bool{}}
	h.cfg.Types = slices.Clone(cfg.Types)
	h.cfg.SeriesOnly = slices.Clone(cfg.SeriesOnly)
	for _, t := range cfg.SeriesOnly {
		if !t.Valid() {
			return nil, fmt.Errorf("aggregate: unknown data type %q", t)
		}
		h.seriesOnly[t] = true
	}
	if len(cfg.Types) == 0 {
		for _, info := range ohx.DataTypes() {
			if info.Aggregation != ohx.AggregateNone {
				h.aggregate[info.Type] = info.Aggregation
			}
		}
		return h, nil
	}
	for _, t := range cfg.Types {
		info, ok := t.Info()
		switch {
		case !ok:
			return nil, fmt.Errorf("aggregate: unknown data type %q", t)
		case info.Aggregation == ohx.AggregateNone || info.Shape != ohx.ShapeQuantity:
			return nil, fmt.Errorf("aggregate: %s cannot be aggregated hourly", t)
		}
		h.aggregate[t] = info.Aggregation
	}
	return h, nil
}

// ForPolicy returns the aggregator a policy asks for: Individual when the
// policy aggregates no type hourly, else an Hourly aggregator of the
// policy's hourly types whose AggregationAuto types aggregate their series
// only (cfg.Types and cfg.SeriesOnly are ignored).
func ForPolicy(p *ohx.Policy, cfg HourlyConfig) (ohx.Aggregator, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	types := p.HourlyTypes()
	if len(types) == 0 {
		return Individual{}, nil
	}
	cfg.Types = types
	cfg.SeriesOnly = p.AutoTypes()
	return NewHourly(cfg)
}

// Types returns the data types h aggregates, in catalog order.
func (h *Hourly) Types() []ohx.DataType {
	var ts []ohx.DataType
	for _, info := range ohx.DataTypes() {
		if _, ok := h.aggregate[info.Type]; ok {
			ts = append(ts, info.Type)
		}
	}
	return ts
}

// location returns the zone of link's buckets.
func (h *Hourly) location(link ohx.Link) (*time.Location, error) {
	if h.cfg.Location != nil {
		return h.cfg.Location, nil
	}
	if link.TimeZone == "" || link.TimeZone == "UTC" {
		return time.UTC, nil
	}
	if v, ok := h.zones.Load(link.TimeZone); ok {
		if loc := v.(*time.Location); loc != nil {
			return loc, nil
		}
		return nil, fmt.Errorf("%w %q", ErrUnknownZone, link.TimeZone)
	}
	loc, err := time.LoadLocation(link.TimeZone)
	if err != nil {
		h.zones.Store(link.TimeZone, (*time.Location)(nil))
		return nil, fmt.Errorf("%w %q", ErrUnknownZone, link.TimeZone)
	}
	h.zones.Store(link.TimeZone, loc)
	return loc, nil
}

// locationOrUTC is location for callers that cannot fail; the sync of a link
// with an unknown zone fails in Aggregate anyway.
func (h *Hourly) locationOrUTC(link ohx.Link) *time.Location {
	loc, err := h.location(link)
	if err != nil {
		return time.UTC
	}
	return loc
}

// BucketStart implements ohx.BucketAligner: the start of the hour of link's
// zone holding t.
func (h *Hourly) BucketStart(link ohx.Link, t time.Time) time.Time {
	return hourOf(h.locationOrUTC(link), t).start
}

// BucketEnd implements ohx.BucketAligner: the end of the hour of link's zone
// holding t.
func (h *Hourly) BucketEnd(link ohx.Link, t time.Time) time.Time {
	return hourOf(h.locationOrUTC(link), t).end
}

// CursorLimit implements ohx.CursorLimiter: a fetch that ended at end leaves
// the hour holding end open, so no cursor may pass its start.
func (h *Hourly) CursorLimit(link ohx.Link, end time.Time) time.Time {
	return h.BucketStart(link, end)
}

// hour is one bucket: [start, end) with the UTC offsets in force at both.
type hour struct {
	start, end       time.Time
	startOff, endOff time.Duration
}

// hourOf returns the whole hour of loc's wall clock holding t (hours.Of)
// with the zone's offset at its start and at its end.
func hourOf(loc *time.Location, t time.Time) hour {
	start, end, cut := hours.Of(loc, t)
	_, off := t.In(loc).Zone()
	h := hour{start: start, end: end, startOff: time.Duration(off) * time.Second, endOff: time.Duration(off) * time.Second}
	if cut {
		_, next := end.In(loc).Zone()
		h.endOff = time.Duration(next) * time.Second
	}
	return h
}
