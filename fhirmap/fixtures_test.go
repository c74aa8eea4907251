package fhirmap_test

import (
	"fmt"
	"math"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Realistic inputs in the shapes the two built-in providers yield (see
// docs/providers/{withings,googlehealth}.md and the payloads in
// withings/testdata/fixtures and fitbit/testdata/fixtures), plus
// a custom provider for RR intervals, which neither built-in provider has.

var (
	paris    = time.Hour      // CET offset in November
	newYork  = -5 * time.Hour // EST
	fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func withingsLink() ohx.Link {
	return ohx.Link{ID: "link-w-1", Provider: "withings", ExternalUserID: "12345678", Patient: "Patient/p-1001",
		TimeZone: "Europe/Paris", Status: ohx.LinkActive}
}

func googleLink() ohx.Link {
	return ohx.Link{ID: "link-g-1", Provider: "fitbit", ExternalUserID: "6df2a2bd-5d0e-4c7c-9c0c-2f6e0a1b9a77", Patient: "Patient/p-2002",
		TimeZone: "America/New_York", Status: ohx.LinkActive}
}

func customLink() ohx.Link {
	return ohx.Link{ID: "link-c-1", Provider: "polar-custom", ExternalUserID: "u-42", Patient: "Patient/p-3003", Status: ohx.LinkActive}
}

const withingsScale = "0123456789abcdef0123456789abcdef01234567"
const withingsBPM = "abcdef0123456789abcdef012345670123456789"
const withingsWatch = "fedcba9876543210fedcba9876543210fedcba98"

// ecgSignal returns n samples of a plausible single-lead signal in µV.
func ecgSignal(n int, hz float64) []int32 {
	out := make([]int32, n)
	for i := range out {
		t := float64(i) / hz
		beat := math.Mod(t, 0.8)
		v := 60 * math.Sin(2*math.Pi*t*1.25)
		if beat < 0.04 {
			v += 1100 * math.Sin(math.Pi*beat/0.04)
		}
		out[i] = int32(v)
	}
	return out
}

func withingsSamples() []ohx.Sample {
	at := time.Date(2026, 11, 20, 6, 42, 13, 0, time.UTC)
	created := at.Add(30 * time.Second)
	w := func(t ohx.DataType, v float64, unit string) ohx.Sample {
		return ohx.Sample{Type: t, Start: at, End: at, StartOffset: paris, EndOffset: paris, Value: v, Unit: unit,
			Provider: "withings", DeviceID: withingsScale, Recording: ohx.RecordedByDevice, RecordID: "5139573921",
			Created: created, Modified: created}
	}
	bpAt := at.Add(2 * time.Hour)
	ecgAt := time.Date(2026, 11, 20, 18, 5, 7, 0, time.UTC)
	hrAt := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	sleepStart := time.Date(2026, 11, 19, 22, 41, 0, 0, time.UTC)
	sleepEnd := time.Date(2026, 11, 20, 5, 58, 0, 0, time.UTC)
	stepsAt := time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)
	out := []ohx.Sample{
		w(ohx.BodyWeight, 72.45, "kg"),
		w(ohx.BodyFatRatio, 21.3, "%"),
		w(ohx.FatMass, 15.43, "kg"),
		w(ohx.FatFreeMass, 57.02, "kg"),
		w(ohx.MuscleMass, 54.1, "kg"),
		w(ohx.Hydration, 39.8, "kg"),
		w(ohx.BoneMass, 2.92, "kg"),
		w(ohx.PulseWaveVelocity, 7.8, "m/s"),
		w(ohx.VO2Max, 41.5, "mL/min/kg"),
		// A corrected weigh-in: modified after creation.
		func() ohx.Sample {
			s := w(ohx.BodyWeight, 72.5, "kg")
			s.RecordID = "5139573999"
			s.Modified = created.Add(26 * time.Hour)
			return s
		}(),
		// Attribution ambiguous (Withings attrib 1): a shared scale.
		func() ohx.Sample {
			s := w(ohx.BodyWeight, 81.2, "kg")
			s.RecordID = "5139574000"
			s.Recording = ohx.RecordedAmbiguous
			return s
		}(),
		// Manual entry without a device.
		{Type: ohx.BodyTemperature, Start: at, End: at, StartOffset: paris, EndOffset: paris, Value: 36.9, Unit: "Cel",
			Provider: "withings", Recording: ohx.RecordedByUser, RecordID: "5139574111", Created: created},
		{Type: ohx.SkinTemperature, Start: at, End: at, StartOffset: paris, EndOffset: paris, Value: 33.4, Unit: "Cel",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice, RecordID: "5139574112"},
		{Type: ohx.SpO2, Start: at, End: at, StartOffset: paris, EndOffset: paris, Value: 97, Unit: "%",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice, RecordID: "5139574113"},
		{Type: ohx.RespiratoryRate, Start: at, End: at, StartOffset: paris, EndOffset: paris, Value: 14, Unit: "/min",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice},
		{Type: ohx.BloodPressure, Start: bpAt, End: bpAt, StartOffset: paris, EndOffset: paris, Provider: "withings",
			DeviceID: withingsBPM, Recording: ohx.RecordedByDevice, RecordID: "5139580000", Group: "bp-5139580000",
			Components: []ohx.Component{{Code: ohx.ComponentSystolic, Value: 121, Unit: "mm[Hg]"}, {Code: ohx.ComponentDiastolic, Value: 79, Unit: "mm[Hg]"}}},
		{Type: ohx.HeartRate, Start: bpAt, End: bpAt, StartOffset: paris, EndOffset: paris, Value: 64, Unit: "/min", Provider: "withings",
			DeviceID: withingsBPM, Recording: ohx.RecordedByDevice, RecordID: "5139580000", Group: "bp-5139580000", ProviderType: "11"},
		// Intraday heart rate (getintradayactivity): no record id.
		{Type: ohx.HeartRate, Start: hrAt, End: hrAt, StartOffset: paris, EndOffset: paris, Value: 71, Unit: "/min",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice},
		{Type: ohx.Steps, Start: stepsAt, End: stepsAt.Add(time.Minute), StartOffset: paris, EndOffset: paris, Value: 96, Unit: "{steps}",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice},
		{Type: ohx.SleepSession, Start: sleepStart, End: sleepEnd, StartOffset: paris, EndOffset: paris, Unit: "s", Provider: "withings",
			DeviceID: withingsWatch, Recording: ohx.RecordedByDevice, RecordID: "2871134765", Created: sleepEnd.Add(time.Hour), Modified: sleepEnd.Add(time.Hour),
			ProviderType: "sleep/getsummary",
			Components: []ohx.Component{
				{Code: ohx.ComponentSleepTotal, Value: 23820, Unit: "s"}, {Code: ohx.ComponentInBed, Value: 26220, Unit: "s"},
				{Code: ohx.ComponentSleepLight, Value: 13200, Unit: "s"}, {Code: ohx.ComponentSleepDeep, Value: 5400, Unit: "s"},
				{Code: ohx.ComponentSleepREM, Value: 5220, Unit: "s"}, {Code: ohx.ComponentSleepAwake, Value: 2400, Unit: "s"},
			}},
	}
	// ECG from Heart v2 (Move ECG / ScanWatch: 30 s at 300 Hz, µV) with its
	// average heart rate as the linked companion.
	for i, class := range []ohx.ECGClassification{ohx.ECGSinusRhythm, ohx.ECGAtrialFibrillation, ohx.ECGInconclusive} {
		start := ecgAt.Add(time.Duration(i) * time.Hour)
		rec := fmt.Sprintf("%d", 123987+i)
		out = append(out,
			ohx.Sample{Type: ohx.ECG, Start: start, End: start.Add(30 * time.Second), StartOffset: paris, EndOffset: paris, Unit: "mV",
				Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice, RecordID: rec, Group: "ecg-" + rec, ProviderType: "heart/get/signal",
				Waveform: &ohx.Waveform{Samples: ecgSignal(9000, 300), SamplingFrequency: 300, FactorToMillivolts: 0.001, Lead: "I", Classification: class}},
			ohx.Sample{Type: ohx.HeartRate, Start: start, End: start, StartOffset: paris, EndOffset: paris, Value: 77, Unit: "/min",
				Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice, RecordID: rec, Group: "ecg-" + rec, CompanionOf: ohx.ECG,
				ProviderType: "heart/list/heart_rate"},
		)
	}
	return out
}

func withingsDevices() []ohx.Device {
	pct := 85.0
	return []ohx.Device{
		{Provider: "withings", ID: withingsScale, Kind: ohx.DeviceScale, Manufacturer: "Withings", Model: "Body Scan", ModelNumber: "10",
			Firmware: "3210", BatteryStatus: "high", FirstUse: time.Date(2024, 3, 2, 8, 12, 0, 0, time.UTC)},
		{Provider: "withings", ID: withingsBPM, Kind: ohx.DeviceBloodPressure, Manufacturer: "Withings", Model: "BPM Core", ModelNumber: "44"},
		{Provider: "withings", ID: withingsWatch, Kind: ohx.DeviceWatch, Manufacturer: "Withings", Model: "ScanWatch", ModelNumber: "93",
			Firmware: "2.11.4", BatteryPercent: &pct, FirstUse: time.Date(2025, 1, 14, 19, 3, 0, 0, time.UTC)},
	}
}

func googleSamples() []ohx.Sample {
	day := time.Date(2026, 11, 20, 5, 0, 0, 0, time.UTC) // local midnight in New York
	next := day.Add(24 * time.Hour)
	at := time.Date(2026, 11, 20, 14, 3, 0, 0, time.UTC)
	daily := func(t ohx.DataType, v float64, unit string) ohx.Sample {
		return ohx.Sample{Type: t, Start: day, End: next, StartOffset: newYork, EndOffset: newYork, Value: v, Unit: unit,
			Provider: "fitbit", DeviceName: "Pixel Watch 3", Recording: ohx.RecordedDerived}
	}
	point := func(t ohx.DataType, v float64, unit string) ohx.Sample {
		return ohx.Sample{Type: t, Start: at, End: at, StartOffset: newYork, EndOffset: newYork, Value: v, Unit: unit,
			Provider: "fitbit", DeviceName: "Inspire 3", Recording: ohx.RecordedByDevice}
	}
	sleepStart := time.Date(2026, 11, 20, 4, 12, 0, 0, time.UTC)
	sleepEnd := time.Date(2026, 11, 20, 11, 47, 30, 0, time.UTC)
	deviation := daily(ohx.SkinTemperatureDeviation, -0.21, "Cel") // a provider that still says Cel: ohx writes K
	deviation.Components = []ohx.Component{{Code: ohx.ComponentBaseline, Value: 33.94, Unit: "Cel"}}
	ecgAt := time.Date(2026, 11, 18, 15, 30, 0, 0, time.UTC) // historic ECG: no offsets, UTC
	ecgName := "users/me/dataTypes/electrocardiogram/dataPoints/8736458123"
	return []ohx.Sample{
		point(ohx.HeartRate, 68, "/min"),
		point(ohx.HRVRMSSD, 41.7, "ms"),
		point(ohx.HRVSDNN, 52.3, "ms"),
		point(ohx.SpO2, 96.5, "%"),
		point(ohx.RestingHeartRate, 58, "/min"),
		{Type: ohx.Steps, Start: at, End: at.Add(time.Minute), StartOffset: newYork, EndOffset: newYork, Value: 112, Unit: "{steps}",
			Provider: "fitbit", DeviceName: "Inspire 3", Recording: ohx.RecordedByDevice},
		{Type: ohx.BodyWeight, Start: at, End: at, StartOffset: newYork, EndOffset: newYork, Value: 80.3, Unit: "kg", Provider: "fitbit",
			Recording: ohx.RecordedByUser, RecordID: "users/me/dataTypes/weight/dataPoints/1763651000000"},
		{Type: ohx.BodyFatRatio, Start: at, End: at, StartOffset: newYork, EndOffset: newYork, Value: 24.1, Unit: "%", Provider: "fitbit",
			Recording: ohx.RecordedByUser, RecordID: "users/me/dataTypes/body-fat/dataPoints/1763651000000"},
		daily(ohx.DailyRestingHeartRate, 57, "/min"),
		daily(ohx.DailyHRV, 38.2, "ms"),
		daily(ohx.DailySpO2, 95.8, "%"),
		daily(ohx.DailyRespiratoryRate, 15.2, "/min"),
		daily(ohx.SkinTemperature, 34.12, "Cel"),
		deviation,
		{Type: ohx.SleepSession, Start: sleepStart, End: sleepEnd, StartOffset: newYork, EndOffset: newYork, Unit: "s", Provider: "fitbit",
			DeviceName: "Pixel Watch 3", Recording: ohx.RecordedByDevice, RecordID: "users/me/dataTypes/sleep/dataPoints/0b8c2f9e-7a71-4e53-9d1d-33d8c0b5f0a1",
			Created: sleepEnd.Add(20 * time.Minute), Modified: sleepEnd.Add(50 * time.Minute),
			Components: []ohx.Component{
				{Code: ohx.ComponentSleepTotal, Value: 24060, Unit: "s"}, {Code: ohx.ComponentInBed, Value: 27330, Unit: "s"},
				{Code: ohx.ComponentSleepLight, Value: 13800, Unit: "s"}, {Code: ohx.ComponentSleepDeep, Value: 4620, Unit: "s"},
				{Code: ohx.ComponentSleepREM, Value: 5640, Unit: "s"}, {Code: ohx.ComponentSleepAwake, Value: 3270, Unit: "s"},
			}},
		// Google ECG: int32 lead I, mV = sample / millivoltsScalingFactor (1000 here), 250 Hz.
		{Type: ohx.ECG, Start: ecgAt, End: ecgAt.Add(30 * time.Second), Unit: "mV", Provider: "fitbit", DeviceName: "Pixel Watch 3",
			Recording: ohx.RecordedByDevice, RecordID: ecgName, Group: ecgName,
			Waveform: &ohx.Waveform{Samples: ecgSignal(7500, 250), SamplingFrequency: 250, FactorToMillivolts: 1.0 / 1000, Lead: "I", Classification: ohx.ECGSinusRhythm}},
		{Type: ohx.HeartRate, Start: ecgAt, End: ecgAt, Value: 74, Unit: "/min", Provider: "fitbit", DeviceName: "Pixel Watch 3",
			Recording: ohx.RecordedByDevice, RecordID: ecgName, Group: ecgName, CompanionOf: ohx.ECG},
	}
}

func googleDevices() []ohx.Device {
	pct := 62.0
	return []ohx.Device{{Provider: "fitbit", ID: "8a1f6d2c", Kind: ohx.DeviceActivityTracker, Manufacturer: "Google", Model: "Fitbit Air",
		BatteryPercent: &pct, LastSync: time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC), Features: []string{"HEART_RATE", "SPO2"}}}
}

func customSamples() []ohx.Sample {
	at := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	return []ohx.Sample{
		{Type: ohx.RRIntervals, Start: at, End: at.Add(4 * time.Second), Unit: "ms", Provider: "polar-custom", DeviceID: "H10-1",
			Recording: ohx.RecordedByDevice, Series: &ohx.Series{Values: []float64{812, 798, 845.5, 830},
				Offsets: []time.Duration{0, 812 * time.Millisecond, 1610 * time.Millisecond, 2455500 * time.Microsecond}}},
		{Type: ohx.RRIntervals, Start: at.Add(time.Minute), End: at.Add(time.Minute + 3*time.Second), Unit: "ms", Provider: "polar-custom",
			DeviceID: "H10-1", Recording: ohx.RecordedByDevice, Series: &ohx.Series{Values: []float64{800, 805, 810}, Interval: time.Second}},
	}
}

// hourlySamples are what the hourly aggregator yields: one sample per link,
// type and hour with its statistics.
func hourlySamples() []ohx.Sample {
	h := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	return []ohx.Sample{
		{Type: ohx.HeartRate, Start: h, End: h.Add(time.Hour), StartOffset: paris, EndOffset: paris, Value: 72.4, Unit: "/min",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice,
			Aggregate: &ohx.Aggregate{Count: 4, Sum: 289.6, Mean: 72.4, Min: 61, Max: 88,
				Raw: &ohx.Series{Values: []float64{61, 70.6, 70, 88}, Offsets: []time.Duration{0, 15 * time.Minute, 30 * time.Minute, 45 * time.Minute}}}},
		{Type: ohx.Steps, Start: h, End: h.Add(time.Hour), StartOffset: paris, EndOffset: paris, Value: 1843, Unit: "{steps}",
			Provider: "withings", DeviceID: withingsWatch, Recording: ohx.RecordedByDevice,
			Aggregate: &ohx.Aggregate{Count: 60, Sum: 1843, Mean: 30.716666666666665, Min: 0, Max: 121}},
		{Type: ohx.SpO2, Start: h, End: h.Add(time.Hour), StartOffset: paris, EndOffset: paris, Value: 96.25, Unit: "%",
			Provider: "withings", Recording: ohx.RecordedByDevice,
			Aggregate: &ohx.Aggregate{Count: 4, Sum: 385, Mean: 96.25, Min: 95, Max: 98}},
	}
}
