package fitbittest

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

const scopePrefix = "https://www.googleapis.com/auth/googlehealth."

// dataType is one Google Health data type the fake serves.
type dataType struct {
	id        string
	scope     string
	fields    map[string]fieldKind // filterable members below "{t}."
	lowerOnly bool                 // ECG: only ">="
	maxPage   int
	noFamily  bool // sleep: list does not take dataSourceFamily
	noRecon   bool // ECG cannot be reconciled
	// wearable reports whether the points come from a tracker (kept by the
	// google-wearables family) rather than a scale.
	wearable bool
	// grid types have points on a regular grid; step returns its spacing.
	step    func(s *Server) time.Duration
	present func(u *user, t time.Time) bool
	// event types have a few points per civil day.
	events func(s *Server, u *user, day time.Time) []time.Time
	// daily types have one point per civil date.
	daily bool
	// make builds the point at t (daily types: t is the date at UTC
	// midnight).
	make func(s *Server, u *user, t time.Time) wire.DataPoint
	// filterKey is the instant the filter applies to (default: t).
	filterKey func(s *Server, u *user, t time.Time) time.Time
}

var sampleFields = map[string]fieldKind{"sample_time.physical_time": fieldPhysical, "sample_time.civil_time": fieldCivil}
var intervalFields = map[string]fieldKind{"interval.start_time": fieldPhysical, "interval.civil_start_time": fieldCivil}
var dateFields = map[string]fieldKind{"date": fieldDate}

var dataTypes = map[string]*dataType{}

func register(d *dataType) {
	if d.maxPage == 0 {
		d.maxPage = 10000
	}
	dataTypes[d.id] = d
}

func init() {
	hm := scopePrefix + "health_metrics_and_measurements.readonly"
	register(&dataType{id: "heart-rate", scope: hm, fields: sampleFields, wearable: true,
		step:    func(s *Server) time.Duration { return s.cfg.HeartRateEvery },
		present: func(*user, time.Time) bool { return true },
		make:    heartRate})
	register(&dataType{id: "steps", scope: scopePrefix + "activity_and_fitness.readonly", fields: intervalFields, wearable: true,
		step: func(*Server) time.Duration { return time.Minute },
		present: func(u *user, t time.Time) bool {
			h := t.In(u.loc).Hour()
			return h >= 7 && h < 22 && hash(u, "steps-gap", t)%4 != 0
		},
		make: steps})
	register(&dataType{id: "heart-rate-variability", scope: hm, fields: sampleFields, wearable: true,
		step: func(*Server) time.Duration { return 5 * time.Minute }, present: asleep, make: hrv})
	register(&dataType{id: "oxygen-saturation", scope: hm, fields: sampleFields, wearable: true,
		step: func(*Server) time.Duration { return time.Minute }, present: asleep, make: spo2})
	register(&dataType{id: "respiratory-rate-sleep-summary", scope: hm, fields: sampleFields, wearable: true,
		events: atLocal(6, 30), make: respiratory})
	register(&dataType{id: "weight", scope: hm, fields: sampleFields, events: atLocal(7, 15), make: weight})
	register(&dataType{id: "body-fat", scope: hm, fields: sampleFields, events: atLocal(7, 15), make: bodyFat})
	register(&dataType{id: "sleep", scope: scopePrefix + "sleep.readonly", wearable: true, maxPage: 25, noFamily: true,
		fields:    map[string]fieldKind{"interval.end_time": fieldPhysical, "interval.civil_end_time": fieldCivil},
		events:    atLocalPrev(23, 0),
		make:      sleep,
		filterKey: func(_ *Server, _ *user, t time.Time) time.Time { return t.Add(sleepLength) }})
	register(&dataType{id: "electrocardiogram", scope: scopePrefix + "ecg.readonly", wearable: true, lowerOnly: true, noRecon: true,
		fields: map[string]fieldKind{"interval.start_time": fieldPhysical},
		events: atLocal(12, 0), make: ecg})
	for _, id := range []string{"daily-heart-rate-variability", "daily-resting-heart-rate", "daily-oxygen-saturation", "daily-respiratory-rate", "daily-sleep-temperature-derivations"} {
		register(&dataType{id: id, scope: hm, fields: dateFields, wearable: true, daily: true, make: dailyPoint(id)})
	}
}

// DataTypeIDs returns the kebab-case ids of every data type the fake serves.
func DataTypeIDs() []string {
	var out []string
	for id := range dataTypes {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

const sleepLength = 7*time.Hour + 30*time.Minute

// hash is a deterministic pseudo-random number of (user, salt, t): the
// 64-bit FNV-1a hash of the user id, the salt and t's Unix nanoseconds (big
// endian), written out so that it does not allocate.
func hash(u *user, salt string, t time.Time) uint64 {
	return fnvTime(fnvString(fnvString(fnvOffset, u.HealthUserID), salt), t)
}

// FNV-1a, 64 bits (hash/fnv's constants).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// fnvTime hashes t's Unix nanoseconds, big endian, into h.
func fnvTime(h uint64, t time.Time) uint64 {
	v := uint64(t.UnixNano())
	for shift := 56; shift >= 0; shift -= 8 {
		h ^= v >> shift & 0xff
		h *= fnvPrime
	}
	return h
}

func asleep(u *user, t time.Time) bool {
	l := t.In(u.loc)
	m := l.Hour()*60 + l.Minute()
	return m >= 23*60 || m < 6*60+30
}

// atLocal returns one event at hh:mm local time on each civil day.
func atLocal(hh, mm int) func(*Server, *user, time.Time) []time.Time {
	return func(_ *Server, u *user, day time.Time) []time.Time {
		return []time.Time{time.Date(day.Year(), day.Month(), day.Day(), hh, mm, 0, 0, u.loc).UTC()}
	}
}

// atLocalPrev returns one event at hh:mm local time on the day before.
func atLocalPrev(hh, mm int) func(*Server, *user, time.Time) []time.Time {
	return func(_ *Server, u *user, day time.Time) []time.Time {
		return []time.Time{time.Date(day.Year(), day.Month(), day.Day()-1, hh, mm, 0, 0, u.loc).UTC()}
	}
}

func offset(u *user, t time.Time) *wire.Duration {
	_, off := t.In(u.loc).Zone()
	d := wire.Duration(time.Duration(off) * time.Second)
	return &d
}

func sampleTime(u *user, t time.Time) wire.SampleTime {
	return wire.SampleTime{PhysicalTime: t.UTC(), UTCOffset: offset(u, t), CivilTime: wire.Civil(t.In(u.loc))}
}

func interval(u *user, start, end time.Time) wire.Interval {
	return wire.Interval{
		StartTime: start.UTC(), StartUTCOffset: offset(u, start), CivilStartTime: wire.Civil(start.In(u.loc)),
		EndTime: end.UTC(), EndUTCOffset: offset(u, end), CivilEndTime: wire.Civil(end.In(u.loc)),
	}
}

// trackers are the data sources of the tracker's points, one per recording
// method, shared by the points (nothing writes to them) so that a page of
// 10,000 points does not allocate 20,000 of them.
var trackers = func() map[string]*wire.DataSource {
	m := map[string]*wire.DataSource{}
	for _, method := range []string{"PASSIVELY_MEASURED", "ACTIVELY_MEASURED", "DERIVED"} {
		m[method] = &wire.DataSource{Platform: "FITBIT", RecordingMethod: method, Device: &wire.Device{DisplayName: "Charge 6", Manufacturer: "Fitbit", FormFactor: "FITNESS_BAND"}}
	}
	return m
}()

func tracker(method string) *wire.DataSource {
	if ds, ok := trackers[method]; ok {
		return ds
	}
	return &wire.DataSource{Platform: "FITBIT", RecordingMethod: method, Device: &wire.Device{DisplayName: "Charge 6", Manufacturer: "Fitbit", FormFactor: "FITNESS_BAND"}}
}

func pointName(u *user, typ string, t time.Time) string {
	return fmt.Sprintf("users/%s/dataTypes/%s/dataPoints/%d", u.HealthUserID, typ, t.Unix())
}

func heartRate(_ *Server, u *user, t time.Time) wire.DataPoint {
	l := t.In(u.loc)
	return wire.DataPoint{DataSource: tracker("PASSIVELY_MEASURED"), HeartRate: &wire.HeartRate{
		BeatsPerMinute: bpm(restingBPM(l.Hour()*60+l.Minute()), hash(u, "hr", t)), SampleTime: sampleTime(u, t),
	}}
}

// restingBPM is the heart rate at a minute of the local day before noise:
// a daily wave, 56 while asleep (as asleep says).
func restingBPM(minute int) float64 {
	if minute >= 23*60 || minute < 6*60+30 {
		return 56
	}
	return 68 + 14*math.Sin(2*math.Pi*float64(minute)/1440-math.Pi/2)
}

// bpm adds the noise of hash h to a resting rate.
func bpm(resting float64, h uint64) wire.Int64 {
	return wire.Int64(math.Round(resting + float64(h%7)))
}

func steps(_ *Server, u *user, t time.Time) wire.DataPoint {
	return wire.DataPoint{DataSource: tracker("PASSIVELY_MEASURED"), Steps: &wire.Steps{
		Count: wire.Int64(5 + hash(u, "steps", t)%110), Interval: interval(u, t, t.Add(time.Minute)),
	}}
}

func f64(v float64) *wire.Float64 {
	f := wire.Float64(math.Round(v*10) / 10)
	return &f
}

func hrv(_ *Server, u *user, t time.Time) wire.DataPoint {
	h := hash(u, "hrv", t)
	return wire.DataPoint{DataSource: tracker("PASSIVELY_MEASURED"), HeartRateVariability: &wire.HeartRateVariability{
		RMSSD: f64(28 + float64(h%300)/10), SDNN: f64(40 + float64(h%250)/10), SampleTime: sampleTime(u, t),
	}}
}

func spo2(_ *Server, u *user, t time.Time) wire.DataPoint {
	return wire.DataPoint{DataSource: tracker("PASSIVELY_MEASURED"), OxygenSaturation: &wire.OxygenSaturation{
		Percentage: *f64(94 + float64(hash(u, "spo2", t)%45)/10), SampleTime: sampleTime(u, t),
	}}
}

func respiratory(_ *Server, u *user, t time.Time) wire.DataPoint {
	h := hash(u, "resp", t)
	stats := func(v float64) *wire.RespiratoryRateStats {
		return &wire.RespiratoryRateStats{BreathsPerMinute: f64(v), StandardDeviation: f64(0.8), SignalToNoise: f64(12.5)}
	}
	base := 13.5 + float64(h%20)/10
	return wire.DataPoint{DataSource: tracker("DERIVED"), RespiratoryRateSleepSummary: &wire.RespiratoryRateSleepSummary{
		SampleTime: sampleTime(u, t), FullSleepStats: stats(base), DeepSleepStats: stats(base - 1), LightSleepStat: stats(base + 0.3), REMSleepStats: stats(base + 0.8),
	}}
}

func weight(_ *Server, u *user, t time.Time) wire.DataPoint {
	return wire.DataPoint{
		Name:       pointName(u, "weight", t),
		DataSource: &wire.DataSource{Platform: "FITBIT", RecordingMethod: "ACTIVELY_MEASURED", Device: &wire.Device{DisplayName: "Aria Air", Manufacturer: "Fitbit", FormFactor: "SCALE"}},
		Weight:     &wire.Weight{WeightGrams: wire.Float64(72000 + float64(hash(u, "weight", t)%1500)), SampleTime: sampleTime(u, t)},
	}
}

func bodyFat(_ *Server, u *user, t time.Time) wire.DataPoint {
	return wire.DataPoint{
		Name:       pointName(u, "body-fat", t),
		DataSource: &wire.DataSource{Platform: "FITBIT", RecordingMethod: "ACTIVELY_MEASURED", Device: &wire.Device{DisplayName: "Aria Air", Manufacturer: "Fitbit", FormFactor: "SCALE"}},
		BodyFat:    &wire.BodyFat{Percentage: *f64(20 + float64(hash(u, "fat", t)%40)/10), SampleTime: sampleTime(u, t)},
	}
}

// sleep builds a staged session from t for sleepLength: a short awake
// phase, then 90-minute cycles of light, deep, light and REM sleep.
func sleep(_ *Server, u *user, t time.Time) wire.DataPoint {
	end := t.Add(sleepLength)
	pattern := []struct {
		typ string
		d   time.Duration
	}{{"AWAKE", 6 * time.Minute}, {"LIGHT", 24 * time.Minute}, {"DEEP", 25 * time.Minute}, {"LIGHT", 20 * time.Minute}, {"REM", 15 * time.Minute}}
	var stages []wire.SleepStage
	at := t
	mins := map[string]int64{}
	counts := map[string]int64{}
	for i := 0; at.Before(end); i++ {
		p := pattern[i%len(pattern)]
		if i >= len(pattern) && p.typ == "AWAKE" {
			p.d = 3 * time.Minute
		}
		stop := at.Add(p.d)
		if stop.After(end) {
			stop = end
		}
		stages = append(stages, wire.SleepStage{Type: p.typ, StartTime: at.UTC(), StartUTCOffset: offset(u, at), EndTime: stop.UTC(), EndUTCOffset: offset(u, stop)})
		mins[p.typ] += int64(stop.Sub(at) / time.Minute)
		counts[p.typ]++
		at = stop
	}
	i64 := func(v int64) *wire.Int64 { x := wire.Int64(v); return &x }
	sum := &wire.SleepSummary{
		MinutesAsleep: i64(mins["LIGHT"] + mins["DEEP"] + mins["REM"]), MinutesAwake: i64(mins["AWAKE"]),
		MinutesInSleepPeriod: i64(int64(sleepLength / time.Minute)), MinutesToFallAsleep: i64(6), MinutesAfterWakeUp: i64(0),
	}
	for _, typ := range []string{"AWAKE", "LIGHT", "DEEP", "REM"} {
		sum.StagesSummary = append(sum.StagesSummary, wire.StageSummary{Type: typ, Minutes: wire.Int64(mins[typ]), Count: wire.Int64(counts[typ])})
	}
	created, updated := end.Add(30*time.Minute).UTC(), end.Add(35*time.Minute).UTC()
	return wire.DataPoint{
		Name:       fmt.Sprintf("users/%s/dataTypes/sleep/dataPoints/%016x", u.HealthUserID, hash(u, "sleep-id", t)),
		DataSource: tracker("DERIVED"),
		Sleep: &wire.Sleep{Type: "STAGES", Interval: interval(u, t, end), Stages: stages, Summary: sum,
			Metadata: &wire.SleepMeta{MainSleep: true, Processed: true, StagesStatus: "SUCCEEDED"}, CreateTime: &created, UpdateTime: &updated},
	}
}

// ecg builds a recording of Config.ECGDuration at Config.ECGSamplingHz with
// a synthetic lead-I trace in microvolts (millivoltsScalingFactor 1000).
func ecg(s *Server, u *user, t time.Time) wire.DataPoint {
	hz := s.cfg.ECGSamplingHz
	n := int(s.cfg.ECGDuration.Seconds() * float64(hz))
	bpm := 64 + int64(hash(u, "ecg", t)%12)
	beat := 60 / float64(bpm)
	samples := make([]int32, n)
	for i := range samples {
		ph := math.Mod(float64(i)/float64(hz), beat) / beat // phase within a beat
		wave := func(amp, center, width float64) float64 {
			z := (ph - center) / width
			return amp * math.Exp(-z*z)
		}
		// P, Q, R, S and T waves.
		v := wave(60, 0.2, 0.025) + wave(-90, 0.3, 0.008) + wave(1100, 0.32, 0.01) + wave(-200, 0.34, 0.01) + wave(250, 0.55, 0.05)
		samples[i] = int32(math.Round(v))
	}
	avg := wire.Int64(bpm)
	return wire.DataPoint{
		Name:       pointName(u, "electrocardiogram", t),
		DataSource: tracker("ACTIVELY_MEASURED"),
		Electrocardiogram: &wire.Electrocardiogram{
			Interval: interval(u, t, t.Add(s.cfg.ECGDuration)), WaveformSamples: samples, SamplingFrequencyHertz: int32(hz),
			MillivoltsScalingFactor: 1000, LeadNumber: 1, BeatsPerMinuteAvg: &avg, ResultClassification: "NORMAL_SINUS_RHYTHM",
			MedicalDeviceInfo: &wire.MedicalDeviceInfo{DeviceModel: "Charge 6", FirmwareVersion: "194.58.2", FeatureVersion: "1.2", AlgorithmVersion: "2.1"},
		},
	}
}

// dailyPoint builds the daily summary of id for the date at UTC midnight t.
func dailyPoint(id string) func(*Server, *user, time.Time) wire.DataPoint {
	return func(_ *Server, u *user, t time.Time) wire.DataPoint {
		d := wire.DateOf(t)
		h := hash(u, id, t)
		p := wire.DataPoint{DataSource: tracker("DERIVED")}
		switch id {
		case "daily-heart-rate-variability":
			nonRem := wire.Int64(56 + h%6)
			p.DailyHeartRateVariability = &wire.DailyHeartRateVariability{Date: d, AverageHeartRateVariabilityMs: f64(38 + float64(h%150)/10),
				DeepSleepRMSSDMs: f64(42 + float64(h%120)/10), Entropy: f64(1.4 + float64(h%5)/10), NonRemHeartRateBeatsPerMinute: &nonRem}
		case "daily-resting-heart-rate":
			p.DailyRestingHeartRate = &wire.DailyRestingHeartRate{Date: d, BeatsPerMinute: wire.Int64(57 + h%6)}
		case "daily-oxygen-saturation":
			avg := 95.5 + float64(h%20)/10
			p.DataSource = tracker("PASSIVELY_MEASURED")
			p.DailyOxygenSaturation = &wire.DailyOxygenSaturation{Date: d, AveragePercentage: f64(avg), LowerBoundPercentage: f64(avg - 2),
				UpperBoundPercentage: f64(min(avg+2, 100)), StandardDeviationPercentage: f64(0.7)}
		case "daily-respiratory-rate":
			p.DailyRespiratoryRate = &wire.DailyRespiratoryRate{Date: d, BreathsPerMinute: f64(14 + float64(h%20)/10)}
		case "daily-sleep-temperature-derivations":
			baseline := wire.Float64(33.9)
			stddev := wire.Float64(0.3)
			if t.YearDay()%10 == 0 {
				// Right after a baseline reset Google sends "NaN".
				baseline, stddev = wire.Float64(math.NaN()), wire.Float64(math.NaN())
			}
			p.DailySleepTemperatureDerivations = &wire.DailySleepTemperatureDerivations{Date: d,
				NightlyTemperatureCelsius: f64(33.6 + float64(h%8)/10), BaselineTemperatureCelsius: &baseline, RelativeNightlyStddev30dCelsius: &stddev}
		}
		return p
	}
}
