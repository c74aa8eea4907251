package fhirmap

import (
	"strconv"

	"github.com/openhealthexchange/ohx"
)

// decimals is the rounding rule of every value ohx publishes: the number of
// decimal places a data type's values are written with, in the catalog unit.
// It is the resolution the sources support, never the float arithmetic's:
// Withings scales its integers by 10^unit, Google converts grams to
// kilograms, ohx subtracts a baseline or divides a sum, and each of these can
// leave digits no device measured (-0.29999999999999716 for -0.3).
//
// The rule per type (the providers' documented fields and fixtures):
//
//   - Counts and beats: whole numbers. Heart rate (Withings, Google int64
//     bpm, Oura), resting heart rate, steps, RR intervals (ms), blood
//     pressure (mm[Hg]; Withings sends 120 or 12000×10^-2), sleep durations
//     (s).
//   - Heart rate variability (RMSSD, SDNN), SpO2, respiratory rate and VO2max:
//     one decimal. Google and Oura report these as decimals (96.153 %,
//     14.8 /min), but no wrist or ring sensor resolves a tenth finer.
//   - Temperatures and the skin-temperature deviation: two decimals (Oura
//     -0.23 °C; Withings 10^-2 °C; Google 34.0 °C).
//   - Body composition ratio: two decimals (Withings fat ratio 10^-3 %, beyond
//     any impedance scale's resolution of 0.1 %).
//   - Masses: three decimals, 1 g (Withings 10^-3 kg, some groups 10^-4;
//     Google weightGrams); no body scale resolves a gram.
//   - Pulse wave velocity: two decimals (Withings 10^-3 m/s).
//
// Aggregates: an hourly mean has one decimal more than its type (the mean of
// whole heart rates is written 77.7, not 77.66666666666667); minimum,
// maximum and sum are values of the type and follow its rule. The raw series
// and every component (blood pressure, sleep stages, a deviation's baseline)
// follow their type's rule. A type missing from the table is written in the
// shortest form that reads back as the same number.
var decimals = map[ohx.DataType]int{
	ohx.HeartRate:                0,
	ohx.RestingHeartRate:         0,
	ohx.Steps:                    0,
	ohx.RRIntervals:              0,
	ohx.HRVRMSSD:                 1,
	ohx.HRVSDNN:                  1,
	ohx.BloodPressure:            0,
	ohx.BodyWeight:               3,
	ohx.BodyFatRatio:             2,
	ohx.FatMass:                  3,
	ohx.FatFreeMass:              3,
	ohx.MuscleMass:               3,
	ohx.Hydration:                3,
	ohx.BoneMass:                 3,
	ohx.BodyTemperature:          2,
	ohx.SkinTemperature:          2,
	ohx.SkinTemperatureDeviation: 2,
	ohx.SpO2:                     1,
	ohx.RespiratoryRate:          1,
	ohx.SleepSession:             0,
	ohx.PulseWaveVelocity:        2,
	ohx.VO2Max:                   1,
	ohx.DailyRestingHeartRate:    0,
	ohx.DailyHRV:                 1,
	ohx.DailySpO2:                1,
	ohx.DailyRespiratoryRate:     1,
}

// shortest marks a value written in the shortest form that reads back as
// the same float64 (no rounding).
const shortest = -1

// decimalsOf returns the decimals of t's values, or shortest for a type
// without a rule.
func decimalsOf(t ohx.DataType) int {
	if d, ok := decimals[t]; ok {
		return d
	}
	return shortest
}

// meanDecimals returns the decimals of an hourly mean of t: one more than
// its values.
func meanDecimals(t ohx.DataType) int {
	if d, ok := decimals[t]; ok {
		return d + 1
	}
	return shortest
}

// formatDecimal writes v as a plain decimal (no exponent) rounded to d
// places, without trailing zeros and never as "-0"; d == shortest writes
// the shortest form that reads back as v.
func formatDecimal(v float64, d int) string {
	var buf [32]byte
	return string(appendDecimal(buf[:0], v, d))
}

// appendDecimal appends formatDecimal(v, d) to b without allocating.
func appendDecimal(b []byte, v float64, d int) []byte {
	if d < 0 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', d, 64)
	if d > 0 {
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
		if b[len(b)-1] == '.' {
			b = b[:len(b)-1]
		}
	}
	if len(b)-start == 2 && b[start] == '-' && b[start+1] == '0' {
		b = append(b[:start], '0')
	}
	return b
}
