package ohx

import (
	"fmt"
	"math"
	"time"
)

// RecordingMethod says how a sample was recorded.
type RecordingMethod string

// Recording methods.
const (
	// RecordedByDevice: measured by a device, unambiguously this user's.
	RecordedByDevice RecordingMethod = "device"
	// RecordedByUser: entered by the user (manual log).
	RecordedByUser RecordingMethod = "user-entry"
	// RecordedDerived: computed by the provider from other measurements.
	RecordedDerived RecordingMethod = "derived"
	// RecordedAmbiguous: measured by a device, but it may belong to another
	// user of the same device (Withings attrib 1).
	RecordedAmbiguous RecordingMethod = "ambiguous"
	// RecordedUnknown: the provider does not say.
	RecordedUnknown RecordingMethod = "unknown"
)

// Sample is one measurement. It carries exactly one value shape, given by its
// type's catalog entry: Value (a single quantity), Components (several named
// quantities, such as systolic and diastolic pressure), Waveform (an ECG) or
// Series (a list of values, such as RR intervals).
//
// Start and End are instants in UTC; for a point in time they are equal. The
// UTC offsets in force at Start and at End are kept so a FHIR dateTime can be
// written in the patient's local time.
type Sample struct {
	// Type is the data type.
	Type DataType
	// Start is the (UTC) instant the measurement starts or was taken.
	Start time.Time
	// End is the (UTC) instant the measurement ends; equal to Start for an
	// instantaneous measurement.
	End time.Time
	// StartOffset is the UTC offset in force at Start (e.g. -4h).
	StartOffset time.Duration
	// EndOffset is the UTC offset in force at End.
	EndOffset time.Duration

	// Value is the measurement for ShapeQuantity types, in Unit.
	Value float64
	// Unit is the UCUM unit of Value (normally the catalog unit of Type).
	Unit string
	// Components holds the named values of ShapeComponents types.
	Components []Component
	// Waveform holds the signal of ShapeWaveform types.
	Waveform *Waveform
	// Series holds the values of ShapeSeries types.
	Series *Series
	// Aggregate is set on samples produced by an hourly aggregator: Value is
	// then the bucket's natural statistic and Start/End span the bucket.
	Aggregate *Aggregate

	// Provider is the name of the provider that yielded the sample.
	Provider string
	// DeviceID is the provider's id of the source device; empty when unknown
	// or for manual entries.
	DeviceID string
	// DeviceName is a human name of the source device when the provider gives
	// one but no id (e.g. "Inspire 3").
	DeviceName string
	// Recording says how the sample was recorded.
	Recording RecordingMethod
	// RecordID is the provider's own id of the record this sample comes from,
	// when it has one (a Withings measure group id, an ECG signal id, a Google
	// data point name). Several samples may share a record id (the components
	// of one weigh-in); RecordID together with Type identifies a sample.
	RecordID string
	// Group links samples recorded together: samples of one provider and link
	// with the same non-empty Group belong to one recording (an ECG and its
	// average heart rate; a blood-pressure reading and its pulse).
	Group string
	// CompanionOf is set when the provider yielded this sample as the linked
	// data of a sample of another type (the average heart rate of an ECG is a
	// HeartRate sample with CompanionOf == ECG). The engine publishes a
	// companion with its primary even when its own type was not requested,
	// unless consent forbids it.
	CompanionOf DataType
	// Created is when the provider created the record, when it says.
	Created time.Time
	// Modified is when the provider last modified the record, when it says.
	Modified time.Time
	// ProviderType is the provider's own name of the measurement, when it
	// has one: a Withings getmeas meastype ("1" for weight), a Google Health
	// data type ("daily-resting-heart-rate"). It is not part of the sample's
	// identity; fhirmap writes it as a coding beside the standard code.
	ProviderType string
}

// Component is one named value of a multi-valued sample.
type Component struct {
	// Code names the component within its data type; see the Component*
	// constants.
	Code string
	// Value is the component's value in Unit.
	Value float64
	// Unit is the UCUM unit of Value.
	Unit string
}

// Component codes used by the built-in providers and the mapping.
const (
	ComponentSystolic   = "systolic"
	ComponentDiastolic  = "diastolic"
	ComponentSleepTotal = "sleep-total" // total time asleep
	ComponentInBed      = "in-bed"      // total time in bed
	ComponentSleepLight = "sleep-light"
	ComponentSleepDeep  = "sleep-deep"
	ComponentSleepREM   = "sleep-rem"
	ComponentSleepAwake = "sleep-awake"
	ComponentBaseline   = "baseline" // the baseline a deviation is relative to
)

// ECGClassification is a provider's rhythm classification of an ECG.
type ECGClassification string

// ECG classifications.
const (
	ECGSinusRhythm ECGClassification = "sinus-rhythm"
	// ECGNoAtrialFibrillation: the device found no sign of atrial
	// fibrillation and says nothing else about the rhythm (Withings afib 0).
	ECGNoAtrialFibrillation ECGClassification = "no-atrial-fibrillation"
	ECGAtrialFibrillation   ECGClassification = "atrial-fibrillation"
	ECGInconclusive         ECGClassification = "inconclusive"
	ECGUnclassified         ECGClassification = "" // the provider did not classify
)

// Waveform is a regularly sampled single-lead signal. Samples are the
// provider's integer values; Samples[i] × FactorToMillivolts is millivolts.
type Waveform struct {
	// Samples are the provider's raw integer samples, never truncated.
	Samples []int32
	// SamplingFrequency is in hertz.
	SamplingFrequency float64
	// FactorToMillivolts converts a raw sample to millivolts (Withings µV:
	// 0.001; Google: 1/millivoltsScalingFactor).
	FactorToMillivolts float64
	// Lead names the lead ("I" for wrist devices).
	Lead string
	// Classification is the provider's rhythm classification.
	Classification ECGClassification
}

// Series is a list of values of one quantity, either regularly spaced
// (Interval > 0) or at explicit offsets from the sample's Start.
type Series struct {
	// Values are the series values in the sample's Unit.
	Values []float64
	// Interval is the spacing of regularly spaced values.
	Interval time.Duration
	// Offsets are the offsets from Start of irregular values; len(Offsets) ==
	// len(Values) when Interval is zero.
	Offsets []time.Duration
}

// Aggregate holds the statistics of one aggregation bucket.
type Aggregate struct {
	// Count is the number of samples in the bucket.
	Count int
	// Sum, Mean, Min and Max are the bucket's statistics, in the sample's
	// Unit. Only those its type's Aggregation.Statistics() names are
	// computed (mean, minimum and maximum of a rate; the sum of a count);
	// the others are zero and mean nothing.
	Sum, Mean, Min, Max float64
	// Raw optionally keeps the bucket's raw values, regularly spaced or with
	// offsets from the bucket's start.
	Raw *Series
}

// LocalStart returns Start in the fixed zone of StartOffset.
func (s *Sample) LocalStart() time.Time {
	return s.Start.In(fixedZone(s.StartOffset))
}

// LocalEnd returns End in the fixed zone of EndOffset.
func (s *Sample) LocalEnd() time.Time {
	return s.End.In(fixedZone(s.EndOffset))
}

// Instant reports whether the sample is a point in time (Start == End).
func (s *Sample) Instant() bool { return s.Start.Equal(s.End) }

// Component returns the component with the given code.
func (s *Sample) Component(code string) (Component, bool) {
	for _, c := range s.Components {
		if c.Code == code {
			return c, true
		}
	}
	return Component{}, false
}

// Validate checks the sample's shape: a known type, UTC times with End not
// before Start, finite values, and the value shape its type requires. Its
// errors name the type and the problem, never a value.
func (s *Sample) Validate() error {
	info, ok := s.Type.Info()
	if !ok {
		return fmt.Errorf("ohx: sample has unknown data type %q", s.Type)
	}
	if s.Start.IsZero() {
		return fmt.Errorf("ohx: %s sample has no start time", s.Type)
	}
	if s.End.Before(s.Start) {
		return fmt.Errorf("ohx: %s sample ends before it starts", s.Type)
	}
	if s.Aggregate != nil {
		return finite(s.Type, "aggregate", s.Aggregate.Sum, s.Aggregate.Mean, s.Aggregate.Min, s.Aggregate.Max, s.Value)
	}
	switch info.Shape {
	case ShapeQuantity:
		return finite(s.Type, "value", s.Value)
	case ShapeComponents:
		if len(s.Components) == 0 {
			return fmt.Errorf("ohx: %s sample has no components", s.Type)
		}
		for _, c := range s.Components {
			if c.Code == "" {
				return fmt.Errorf("ohx: %s sample has a component without code", s.Type)
			}
			if err := finite(s.Type, "component "+c.Code, c.Value); err != nil {
				return err
			}
		}
	case ShapeWaveform:
		w := s.Waveform
		if w == nil || len(w.Samples) == 0 {
			return fmt.Errorf("ohx: %s sample has no waveform", s.Type)
		}
		if !(w.SamplingFrequency > 0) || math.IsInf(w.SamplingFrequency, 0) {
			return fmt.Errorf("ohx: %s sample has no valid sampling frequency", s.Type)
		}
		if !(w.FactorToMillivolts > 0) || math.IsInf(w.FactorToMillivolts, 0) {
			return fmt.Errorf("ohx: %s sample has no valid millivolt factor", s.Type)
		}
	case ShapeSeries:
		sr := s.Series
		if sr == nil || len(sr.Values) == 0 {
			return fmt.Errorf("ohx: %s sample has no series", s.Type)
		}
		if sr.Interval <= 0 && len(sr.Offsets) != len(sr.Values) {
			return fmt.Errorf("ohx: %s series needs an interval or one offset per value", s.Type)
		}
		if err := finite(s.Type, "series", sr.Values...); err != nil {
			return err
		}
	}
	return nil
}

func finite(t DataType, what string, vs ...float64) error {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("ohx: %s sample has a non-finite %s", t, what)
		}
	}
	return nil
}

// zoneCache holds fixed zones for every quarter hour from -18h to +18h, built
// once so hot paths never allocate a Location.
var zoneCache = func() (z [2*18*4 + 1]*time.Location) {
	for i := range z {
		z[i] = time.FixedZone("", (i-18*4)*900)
	}
	z[18*4] = time.UTC
	return z
}()

// fixedZone returns a fixed zone for offset d.
func fixedZone(d time.Duration) *time.Location {
	secs := int(d / time.Second)
	if secs%900 == 0 && secs >= -18*3600 && secs <= 18*3600 {
		return zoneCache[secs/900+18*4]
	}
	return time.FixedZone("", secs)
}
