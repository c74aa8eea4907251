package aggregate

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Aggregate implements ohx.Aggregator. Samples of the configured types are
// summed up per hour; an hour is emitted when a sample of its type at or
// after the hour's end arrives, and the hours still open are emitted when in
// ends. Every other sample passes through at once, in order (after the hour
// of its own type that ended before it, so each type's output stays in time
// order from hour to hour): other types,
// companions, samples that already carry an Aggregate, samples longer than
// an hour (a provider's day total stays a day total; it is never put into
// the hour it starts in) and, for SeriesOnly types, spot samples. An error
// of in ends the stream without emitting the open hours (they would be
// partial).
func (h *Hourly) Aggregate(link ohx.Link, in iter.Seq2[ohx.Sample, error]) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		loc, err := h.location(link)
		if err != nil {
			yield(ohx.Sample{}, fmt.Errorf("%w: link %s: %w", ohx.ErrPermanent, link.ID, err))
			return
		}
		s := stream{h: h, loc: loc, yield: yield}
		for smp, err := range in {
			if err != nil {
				yield(ohx.Sample{}, err)
				return
			}
			if !s.add(&smp) {
				return
			}
		}
		for _, b := range s.open {
			if b.count > 0 && !s.emit(b) {
				return
			}
		}
	}
}

// stream is the state of one Aggregate call: one open hour per type.
type stream struct {
	h     *Hourly
	loc   *time.Location
	yield func(ohx.Sample, error) bool
	open  []*bucket // open hours in order of first appearance of their type
	last  *bucket   // the bucket of the previous aggregated sample
}

// bucket is the open hour of one type.
type bucket struct {
	typ  ohx.DataType
	agg  ohx.Aggregation
	hour hour

	count               int
	sum, min, max       float64
	unit                string
	provider            string
	device, deviceName  string
	sameDev, sameDevNam bool
	done                time.Time // end of the last emitted hour

	// Duplicate detection: the samples seen at the latest start instant.
	lastStart time.Time
	atLast    []dupKey

	// Raw values, when kept; handed over with the emitted sample.
	raw     []float64
	offsets []time.Duration
	rawCap  int
}

// dupKey identifies a sample among those of one type and start instant.
type dupKey struct {
	end    time.Time
	device string
	value  float64
}

// add processes one input sample; it returns false when the consumer
// stopped.
func (s *stream) add(smp *ohx.Sample) bool {
	if smp.CompanionOf != "" || smp.Aggregate != nil || smp.End.Sub(smp.Start) > time.Hour ||
		(smp.Group != "" && s.h.seriesOnly[smp.Type]) {
		// The hour of its type that ended before it comes first, so each
		// type's output keeps its hours in order (a stream transformer
		// completes a type's Provenance bucket when a later one begins).
		if b := s.openOf(smp.Type); smp.CompanionOf == "" && b != nil && b.count > 0 && !smp.Start.Before(b.hour.end) {
			if !s.emit(b) {
				return false
			}
		}
		return s.yield(*smp, nil)
	}
	b := s.last
	if b == nil || b.typ != smp.Type {
		b = s.bucketOf(smp)
	}
	if b == nil {
		return s.yield(*smp, nil)
	}
	s.last = b
	if b.count > 0 && !smp.Start.Before(b.hour.end) {
		if !s.emit(b) {
			return false
		}
	}
	if b.count == 0 {
		b.hour = hourOf(s.loc, smp.Start)
		b.lastStart = time.Time{}
		b.atLast = b.atLast[:0]
	}
	if smp.Start.Before(b.hour.start) || smp.Start.Before(b.done) {
		return s.yield(ohx.Sample{}, fmt.Errorf("%w: %w: a %s sample precedes an hour already emitted", ohx.ErrPermanent, ErrOutOfOrder, smp.Type))
	}
	if b.duplicate(smp) {
		return true
	}
	unit := smp.Unit
	if unit == "" {
		info, _ := smp.Type.Info()
		unit = info.Unit
	}
	v := smp.Value
	if b.count == 0 {
		b.sum, b.min, b.max = v, v, v
		b.unit = unit
		b.provider = smp.Provider
		b.device, b.sameDev = smp.DeviceID, true
		b.deviceName, b.sameDevNam = smp.DeviceName, true
		if s.h.cfg.KeepRaw {
			b.raw = make([]float64, 0, max(b.rawCap, 16))
			b.offsets = make([]time.Duration, 0, max(b.rawCap, 16))
		}
	} else {
		if unit != b.unit {
			return s.yield(ohx.Sample{}, fmt.Errorf("%w: %w: %s samples in %q and %q", ohx.ErrPermanent, ErrMixedUnits, smp.Type, b.unit, unit))
		}
		b.sum += v
		b.min = min(b.min, v)
		b.max = max(b.max, v)
		if smp.DeviceID != b.device {
			b.sameDev = false
		}
		if smp.DeviceName != b.deviceName {
			b.sameDevNam = false
		}
	}
	b.count++
	if s.h.cfg.KeepRaw {
		b.raw = append(b.raw, v)
		b.offsets = append(b.offsets, smp.Start.Sub(b.hour.start))
	}
	return true
}

// openOf returns the bucket of type t, or nil when it has none.
func (s *stream) openOf(t ohx.DataType) *bucket {
	for _, b := range s.open {
		if b.typ == t {
			return b
		}
	}
	return nil
}

// bucketOf returns the open bucket of smp's type, creating it on first use,
// or nil when smp passes through.
func (s *stream) bucketOf(smp *ohx.Sample) *bucket {
	agg, ok := s.h.aggregate[smp.Type]
	if !ok {
		return nil
	}
	for _, b := range s.open {
		if b.typ == smp.Type {
			return b
		}
	}
	b := &bucket{typ: smp.Type, agg: agg}
	s.open = append(s.open, b)
	return b
}

// duplicate reports whether smp repeats a sample already counted (a provider
// page boundary yields the last sample of a page again as the first of the
// next) and remembers it otherwise.
func (b *bucket) duplicate(smp *ohx.Sample) bool {
	k := dupKey{end: smp.End, device: smp.DeviceID, value: smp.Value}
	switch {
	case smp.Start.Equal(b.lastStart):
		for _, o := range b.atLast {
			if o.value == k.value && o.device == k.device && o.end.Equal(k.end) {
				return true
			}
		}
	case smp.Start.After(b.lastStart):
		b.lastStart = smp.Start
		b.atLast = b.atLast[:0]
	default:
		// Out of order within the hour: nothing to compare against.
		return false
	}
	b.atLast = append(b.atLast, k)
	return false
}

// emit yields b's hour and resets b.
func (s *stream) emit(b *bucket) bool {
	// Only the statistics that mean what they name for the type (see
	// ohx.Aggregation.Statistics); the others stay zero.
	a := &ohx.Aggregate{Count: b.count}
	if b.agg.Has(ohx.StatisticSum) {
		a.Sum = b.sum
	}
	if b.agg.Has(ohx.StatisticMean) {
		a.Mean = b.sum / float64(b.count)
	}
	if b.agg.Has(ohx.StatisticMin) {
		a.Min, a.Max = b.min, b.max
	}
	if s.h.cfg.KeepRaw {
		a.Raw = rawSeries(b.raw, b.offsets)
		b.rawCap = len(b.raw)
		b.raw, b.offsets = nil, nil
	}
	out := ohx.Sample{
		Type:        b.typ,
		Start:       b.hour.start,
		End:         b.hour.end,
		StartOffset: b.hour.startOff,
		EndOffset:   b.hour.endOff,
		Unit:        b.unit,
		Aggregate:   a,
		Provider:    b.provider,
		Recording:   ohx.RecordedDerived,
	}
	if b.agg == ohx.AggregateSum {
		out.Value = a.Sum
	} else {
		out.Value = a.Mean
	}
	if b.sameDev {
		out.DeviceID = b.device
	}
	if b.sameDevNam {
		out.DeviceName = b.deviceName
	}
	b.count = 0
	b.done = b.hour.end
	return s.yield(out, nil)
}

// rawSeries builds the raw series of an hour: regularly spaced from the
// hour's start when the values are (Interval), else with their offsets.
func rawSeries(vals []float64, offs []time.Duration) *ohx.Series {
	if !slices.IsSorted(offs) {
		idx := make([]int, len(offs))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(offs[a], offs[b]) })
		v2, o2 := make([]float64, len(vals)), make([]time.Duration, len(offs))
		for i, j := range idx {
			v2[i], o2[i] = vals[j], offs[j]
		}
		vals, offs = v2, o2
	}
	if len(offs) >= 2 && offs[0] == 0 {
		step := offs[1]
		regular := step > 0
		for i := 2; regular && i < len(offs); i++ {
			regular = offs[i]-offs[i-1] == step
		}
		if regular {
			return &ohx.Series{Values: vals, Interval: step}
		}
	}
	return &ohx.Series{Values: vals, Offsets: offs}
}
