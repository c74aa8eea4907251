package ohx

import (
	"fmt"
	"slices"
)

// DataType names a kind of measurement ohx can sync. Its string form is stable
// and used in APIs, configuration, metrics labels and deterministic ids.
type DataType string

// The data type catalog. Daily summaries are distinct types because they are
// distinct measurements (a provider's computed value for a civil day), not
// aggregates ohx computes.
const (
	HeartRate                DataType = "heart-rate"
	RestingHeartRate         DataType = "resting-heart-rate"
	Steps                    DataType = "steps"
	RRIntervals              DataType = "rr-intervals"
	HRVRMSSD                 DataType = "hrv-rmssd"
	HRVSDNN                  DataType = "hrv-sdnn"
	ECG                      DataType = "ecg"
	BloodPressure            DataType = "blood-pressure"
	BodyWeight               DataType = "body-weight"
	BodyFatRatio             DataType = "body-fat-ratio"
	FatMass                  DataType = "fat-mass"
	FatFreeMass              DataType = "fat-free-mass"
	MuscleMass               DataType = "muscle-mass"
	Hydration                DataType = "hydration"
	BoneMass                 DataType = "bone-mass"
	BodyTemperature          DataType = "body-temperature"
	SkinTemperature          DataType = "skin-temperature"
	SkinTemperatureDeviation DataType = "skin-temperature-deviation"
	SpO2                     DataType = "spo2"
	RespiratoryRate          DataType = "respiratory-rate"
	SleepSession             DataType = "sleep-session"
	PulseWaveVelocity        DataType = "pulse-wave-velocity"
	VO2Max                   DataType = "vo2max"
	DailyRestingHeartRate    DataType = "daily-resting-heart-rate"
	DailyHRV                 DataType = "daily-hrv"
	DailySpO2                DataType = "daily-spo2"
	DailyRespiratoryRate     DataType = "daily-respiratory-rate"
)

// Shape says how a data type's value is carried on a [Sample].
type Shape int

// Value shapes.
const (
	// ShapeQuantity is a single number in Sample.Value.
	ShapeQuantity Shape = iota + 1
	// ShapeComponents is a set of named numbers in Sample.Components (blood
	// pressure, sleep stage durations).
	ShapeComponents
	// ShapeWaveform is a regularly sampled signal in Sample.Waveform (ECG).
	ShapeWaveform
	// ShapeSeries is a list of values in Sample.Series (RR intervals).
	ShapeSeries
)

// Timing says what a sample's time span means for a data type.
type Timing int

// Timings.
const (
	// TimingInstant: a measurement at one instant (Start == End).
	TimingInstant Timing = iota + 1
	// TimingInterval: a measurement over [Start, End) (steps, a sleep session,
	// an ECG recording).
	TimingInterval
	// TimingDaily: a provider's summary of a day or of the night before it:
	// [local midnight, next local midnight) when the provider dates it by
	// the day alone, or the sleep period it was measured over when the
	// provider gives that period (Oura's nightly HRV, resting heart rate and
	// respiratory rate).
	TimingDaily
)

// Aggregation is the natural statistic of a data type when samples are
// aggregated into hourly buckets. It also decides which statistics a bucket
// carries (see Statistics): the catalog's Aggregation per type is the one
// place that says which summaries of a type mean what they name.
type Aggregation int

// Aggregations.
const (
	// AggregateNone: the type passes through an aggregator unchanged (ECG,
	// blood pressure readings, weight, sleep sessions, daily summaries, and
	// heart rate variability: a mean of SDNN values is not an SDNN).
	AggregateNone Aggregation = iota
	// AggregateMean: the bucket's value is the mean (rates such as heart rate).
	AggregateMean
	// AggregateSum: the bucket's value is the sum (counts such as steps).
	AggregateSum
)

// Statistic names one statistic of an aggregation bucket.
type Statistic string

// Statistics of a bucket.
const (
	StatisticMean  Statistic = "mean"
	StatisticSum   Statistic = "sum"
	StatisticMin   Statistic = "min"
	StatisticMax   Statistic = "max"
	StatisticCount Statistic = "count"
)

// Statistics returns the statistics a bucket of this aggregation carries,
// its natural statistic first; an aggregator computes no other and a
// transformer publishes no other.
//
//   - AggregateMean (heart rate, SpO2, respiratory rate: each sample is a
//     reading of the same quantity): mean, minimum, maximum and count.
//   - AggregateSum (steps: each sample counts what happened during its own
//     span): sum and count only. The minimum, maximum or mean of per-sample
//     counts depend on how long the provider's samples are (a minute, a
//     quarter hour), so they describe the provider, not the patient.
//   - AggregateNone: none; such types are never aggregated.
func (a Aggregation) Statistics() []Statistic {
	switch a {
	case AggregateMean:
		return []Statistic{StatisticMean, StatisticMin, StatisticMax, StatisticCount}
	case AggregateSum:
		return []Statistic{StatisticSum, StatisticCount}
	}
	return nil
}

// Has reports whether a bucket of this aggregation carries statistic st.
func (a Aggregation) Has(st Statistic) bool {
	return slices.Contains(a.Statistics(), st)
}

// DataTypeInfo describes one entry of the data type catalog.
type DataTypeInfo struct {
	// Type is the data type.
	Type DataType
	// Title is a short human description.
	Title string
	// Unit is the UCUM unit of Sample.Value (or of the series values) for this
	// type; empty for types whose value has components with their own units.
	Unit string
	// Shape says where the value lives on a Sample.
	Shape Shape
	// Timing says what Start and End mean.
	Timing Timing
	// Aggregation is the statistic an hourly aggregator uses.
	Aggregation Aggregation
	// Daily reports whether the type is a provider's daily summary.
	Daily bool
}

var catalog = []DataTypeInfo{
	{Type: HeartRate, Title: "Heart rate", Unit: "/min", Shape: ShapeQuantity, Timing: TimingInstant, Aggregation: AggregateMean},
	{Type: RestingHeartRate, Title: "Resting heart rate", Unit: "/min", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: Steps, Title: "Steps", Unit: "{steps}", Shape: ShapeQuantity, Timing: TimingInterval, Aggregation: AggregateSum},
	{Type: RRIntervals, Title: "RR intervals (beat-to-beat)", Unit: "ms", Shape: ShapeSeries, Timing: TimingInterval},
	{Type: HRVRMSSD, Title: "Heart rate variability, RMSSD", Unit: "ms", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: HRVSDNN, Title: "Heart rate variability, SDNN", Unit: "ms", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: ECG, Title: "Electrocardiogram (single lead)", Unit: "mV", Shape: ShapeWaveform, Timing: TimingInterval},
	{Type: BloodPressure, Title: "Blood pressure", Unit: "mm[Hg]", Shape: ShapeComponents, Timing: TimingInstant},
	{Type: BodyWeight, Title: "Body weight", Unit: "kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: BodyFatRatio, Title: "Body fat ratio", Unit: "%", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: FatMass, Title: "Fat mass", Unit: "kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: FatFreeMass, Title: "Fat-free mass", Unit: "kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: MuscleMass, Title: "Muscle mass", Unit: "kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: Hydration, Title: "Hydration (body water mass)", Unit: "kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: BoneMass, Title: "Bone mass", Unit: "kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: BodyTemperature, Title: "Body temperature", Unit: "Cel", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: SkinTemperature, Title: "Skin temperature", Unit: "Cel", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: SkinTemperatureDeviation, Title: "Skin temperature deviation from baseline", Unit: "K", Shape: ShapeQuantity, Timing: TimingDaily, Daily: true},
	{Type: SpO2, Title: "Oxygen saturation (SpO2)", Unit: "%", Shape: ShapeQuantity, Timing: TimingInstant, Aggregation: AggregateMean},
	{Type: RespiratoryRate, Title: "Respiratory rate", Unit: "/min", Shape: ShapeQuantity, Timing: TimingInstant, Aggregation: AggregateMean},
	{Type: SleepSession, Title: "Sleep session", Unit: "s", Shape: ShapeComponents, Timing: TimingInterval},
	{Type: PulseWaveVelocity, Title: "Pulse wave velocity", Unit: "m/s", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: VO2Max, Title: "VO2max", Unit: "mL/min/kg", Shape: ShapeQuantity, Timing: TimingInstant},
	{Type: DailyRestingHeartRate, Title: "Daily resting heart rate", Unit: "/min", Shape: ShapeQuantity, Timing: TimingDaily, Daily: true},
	{Type: DailyHRV, Title: "Daily heart rate variability, RMSSD", Unit: "ms", Shape: ShapeQuantity, Timing: TimingDaily, Daily: true},
	{Type: DailySpO2, Title: "Daily oxygen saturation", Unit: "%", Shape: ShapeQuantity, Timing: TimingDaily, Daily: true},
	{Type: DailyRespiratoryRate, Title: "Daily respiratory rate", Unit: "/min", Shape: ShapeQuantity, Timing: TimingDaily, Daily: true},
}

var catalogIndex = func() map[DataType]int {
	m := make(map[DataType]int, len(catalog))
	for i, c := range catalog {
		m[c.Type] = i
	}
	return m
}()

// DataTypes returns the whole catalog in a stable order. The slice is a copy.
func DataTypes() []DataTypeInfo { return slices.Clone(catalog) }

// Info returns the catalog entry of t; ok is false for an unknown type.
func (t DataType) Info() (info DataTypeInfo, ok bool) {
	i, ok := catalogIndex[t]
	if !ok {
		return DataTypeInfo{}, false
	}
	return catalog[i], true
}

// Valid reports whether t is in the catalog.
func (t DataType) Valid() bool {
	_, ok := catalogIndex[t]
	return ok
}

// String returns the type's stable name.
func (t DataType) String() string { return string(t) }

// ParseDataType returns the catalog type named s.
func ParseDataType(s string) (DataType, error) {
	t := DataType(s)
	if !t.Valid() {
		return "", fmt.Errorf("ohx: unknown data type %q", s)
	}
	return t, nil
}
