package ohx

import (
	"fmt"
	"slices"
	"time"
)

// AggregationMode says how an organization wants a data type published:
// every sample on its own, one summary per hour, or ohx's choice per type.
type AggregationMode string

// Aggregation modes.
const (
	// AggregationIndividual publishes every sample as it came from the
	// provider.
	AggregationIndividual AggregationMode = "individual"
	// AggregationHourly publishes one summary per whole hour of the link's
	// time zone (only for types whose catalog Aggregation is not
	// AggregateNone; the others stay individual).
	AggregationHourly AggregationMode = "hourly"
	// AggregationAuto publishes the high-frequency series (heart rate,
	// intraday steps, SpO2 and respiratory-rate series: the types whose
	// catalog Aggregation is not AggregateNone) as hourly summaries and
	// every spot measurement individually: the types that cannot be
	// aggregated (weight, body composition, blood pressure, temperature,
	// ECG, sleep sessions, daily summaries, HRV) and, within the series
	// types, the samples measured as part of one reading (a non-empty
	// Sample.Group, such as the pulse a scale took with a weight). It is the
	// daemon's default.
	AggregationAuto AggregationMode = "auto"
)

// Valid reports whether m is a known mode ("" counts as individual).
func (m AggregationMode) Valid() bool {
	switch m {
	case "", AggregationIndividual, AggregationHourly, AggregationAuto:
		return true
	}
	return false
}

// Policy is an organization's sync policy. The zero value and a nil *Policy
// allow every data type, publish every sample individually, apply
// DefaultCompanions() and put no limit on how far back a sync may read.
//
// What a sync finally reads is Policy ∩ the link's consent (Link.DataTypes) ∩
// the scopes the user granted; the engine reports every type it leaves out and
// why.
type Policy struct {
	// AllowedTypes, when not empty, is the set of data types the organization
	// syncs at all.
	AllowedTypes []DataType
	// Aggregation sets the aggregation mode per data type; a type absent
	// from it takes DefaultAggregation.
	Aggregation map[DataType]AggregationMode
	// DefaultAggregation is the mode of types absent from Aggregation; ""
	// means AggregationIndividual.
	DefaultAggregation AggregationMode
	// Companions maps a data type to the types that must be published with
	// it (its linked data). Nil means DefaultCompanions(); an empty, non-nil
	// map means no linked data at all.
	Companions map[DataType][]DataType
	// MaxLookback, when positive, is the furthest back from now an
	// initial, incremental, push or reconciliation sync may read; windows
	// reaching further are cut. It bounds backfills too when MaxBackfill is
	// zero.
	MaxLookback time.Duration
	// MaxBackfill, when positive, is the furthest back from now a backfill
	// (an explicit window an operator asked for) may read, instead of
	// MaxLookback.
	MaxBackfill time.Duration
}

// DefaultCompanions returns the default linked-data rules: ECG and RR
// intervals always come with the heart rate recorded with them. Each call
// returns a new map, which the caller may change (for example to start a
// Policy.Companions from the defaults).
func DefaultCompanions() map[DataType][]DataType {
	out := make(map[DataType][]DataType, len(defaultCompanions))
	for t, cs := range defaultCompanions {
		out[t] = slices.Clone(cs)
	}
	return out
}

// defaultCompanions holds the rules DefaultCompanions returns; never
// modified.
var defaultCompanions = map[DataType][]DataType{
	ECG:         {HeartRate},
	RRIntervals: {HeartRate},
}

// Validate reports an error for unknown data types or modes, and for hourly
// aggregation asked for by name for a type that cannot be aggregated.
func (p *Policy) Validate() error {
	if p == nil {
		return nil
	}
	for _, t := range p.AllowedTypes {
		if !t.Valid() {
			return fmt.Errorf("ohx: policy allows unknown data type %q", t)
		}
	}
	if !p.DefaultAggregation.Valid() {
		return fmt.Errorf("ohx: policy has unknown default aggregation %q", p.DefaultAggregation)
	}
	for t, m := range p.Aggregation {
		info, ok := t.Info()
		switch {
		case !ok:
			return fmt.Errorf("ohx: policy sets aggregation of unknown data type %q", t)
		case !m.Valid():
			return fmt.Errorf("ohx: policy sets unknown aggregation %q for %s", m, t)
		case m == AggregationHourly && info.Aggregation == AggregateNone:
			return fmt.Errorf("ohx: policy asks hourly aggregation of %s, which cannot be aggregated", t)
		}
	}
	for t, cs := range p.Companions {
		if !t.Valid() {
			return fmt.Errorf("ohx: policy has linked-data rule for unknown data type %q", t)
		}
		for _, c := range cs {
			if !c.Valid() || c == t {
				return fmt.Errorf("ohx: policy has invalid companion %q of %s", c, t)
			}
		}
	}
	if p.MaxLookback < 0 || p.MaxBackfill < 0 {
		return fmt.Errorf("ohx: policy maximum lookback and backfill must not be negative")
	}
	return nil
}

// Allows reports whether the organization syncs t at all.
func (p *Policy) Allows(t DataType) bool {
	ok, _ := p.allows(t)
	return ok
}

func (p *Policy) allows(t DataType) (bool, string) {
	if p == nil || len(p.AllowedTypes) == 0 || slices.Contains(p.AllowedTypes, t) {
		return true, ""
	}
	return false, "not allowed by the organization's policy"
}

// AggregationOf returns the mode t is published with: its configured mode,
// or DefaultAggregation, and always AggregationIndividual for a type whose
// catalog Aggregation is AggregateNone (ECG, blood pressure, weight, sleep,
// daily summaries, HRV). AggregationAuto resolves to AggregationHourly for
// the other types (their spot samples still pass through, see AutoTypes).
func (p *Policy) AggregationOf(t DataType) AggregationMode {
	if p.modeOf(t) == AggregationIndividual {
		return AggregationIndividual
	}
	return AggregationHourly
}

// modeOf returns t's configured mode (individual, hourly or auto) after the
// catalog's veto.
func (p *Policy) modeOf(t DataType) AggregationMode {
	info, ok := t.Info()
	if p == nil || !ok || info.Aggregation == AggregateNone {
		return AggregationIndividual
	}
	m, set := p.Aggregation[t]
	if !set {
		m = p.DefaultAggregation
	}
	switch m {
	case AggregationHourly, AggregationAuto:
		return m
	}
	return AggregationIndividual
}

// HourlyTypes returns, in catalog order, the allowed data types the policy
// aggregates hourly (in AggregationHourly or AggregationAuto mode): the set
// an hourly aggregator is configured with.
func (p *Policy) HourlyTypes() []DataType {
	var ts []DataType
	for _, c := range catalog {
		if p.Allows(c.Type) && p.AggregationOf(c.Type) == AggregationHourly {
			ts = append(ts, c.Type)
		}
	}
	return ts
}

// AutoTypes returns, in catalog order, the hourly types of HourlyTypes that
// the policy aggregates in AggregationAuto mode: only their series go into
// hours, their spot samples (a non-empty Sample.Group) are published
// individually.
func (p *Policy) AutoTypes() []DataType {
	var ts []DataType
	for _, c := range catalog {
		if p.Allows(c.Type) && p.modeOf(c.Type) == AggregationAuto {
			ts = append(ts, c.Type)
		}
	}
	return ts
}

// CompanionsOf returns the types that must be published with t.
func (p *Policy) CompanionsOf(t DataType) []DataType {
	return slices.Clone(p.companions(t))
}

func (p *Policy) companions(t DataType) []DataType {
	if p == nil || p.Companions == nil {
		return defaultCompanions[t]
	}
	return p.Companions[t]
}

// Earliest returns the earliest instant a sync (other than a backfill)
// running at now may read, or the zero time when the policy sets no limit.
func (p *Policy) Earliest(now time.Time) time.Time {
	if p == nil || p.MaxLookback <= 0 {
		return time.Time{}
	}
	return now.Add(-p.MaxLookback)
}

// EarliestFor returns the earliest instant a sync of trigger t running at now
// may read: MaxBackfill back for a backfill (when set), MaxLookback back
// otherwise; the zero time when the policy sets no limit.
func (p *Policy) EarliestFor(t Trigger, now time.Time) time.Time {
	if p != nil && t == TriggerBackfill && p.MaxBackfill > 0 {
		return now.Add(-p.MaxBackfill)
	}
	return p.Earliest(now)
}

// clampPlans cuts the plans' windows so none starts before the policy's
// earliest instant; a cut start moves forward to a bucket boundary of a so no
// bucket is recomputed from part of its samples. Windows left empty are
// dropped.
func (p *Policy) clampPlans(plans []FetchPlan, a BucketAligner, link Link, t Trigger, now time.Time) []FetchPlan {
	earliest := p.EarliestFor(t, now)
	if earliest.IsZero() {
		return plans
	}
	earliest = ceilBucket(a, link, earliest)
	out := plans[:0]
	for _, pl := range plans {
		if pl.Window.Start.Before(earliest) {
			pl.Window.Start = earliest
		}
		if !pl.Window.Empty() {
			out = append(out, pl)
		}
	}
	return out
}
