package fhirmap

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// formatFloat writes v in the shortest plain decimal form that reads back as
// the same float64 (no exponent), as FHIR decimals and json.Number expect.
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// waveform encodes an ECG as R5 SampledData: the provider's integer samples
// unchanged and in full, origin 0 mV, factor converting a sample to mV, and
// the interval 1000 / sampling frequency in ms.
func waveform(s *ohx.Sample) (*r5.SampledData, code, error) {
	w := s.Waveform
	if w == nil || len(w.Samples) == 0 {
		return nil, code{}, errors.New("fhirmap: ecg sample has no waveform")
	}
	if !(w.SamplingFrequency > 0) || math.IsInf(w.SamplingFrequency, 0) || !(w.FactorToMillivolts > 0) || math.IsInf(w.FactorToMillivolts, 0) {
		return nil, code{}, errors.New("fhirmap: ecg sample has an invalid sampling frequency or millivolt factor")
	}
	buf := make([]byte, 0, len(w.Samples)*5)
	for i, v := range w.Samples {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = strconv.AppendInt(buf, int64(v), 10)
	}
	data := string(buf)
	c := cECGLeadI
	if w.Lead != "" && w.Lead != "I" {
		c = cECGLead
	}
	return &r5.SampledData{
		Origin:       r5.Quantity{Value: number(0), Unit: ptr("mV"), System: ptr(ucum), Code: ptr("mV")},
		Interval:     number(1000 / w.SamplingFrequency),
		IntervalUnit: "ms",
		Factor:       number(w.FactorToMillivolts),
		Dimensions:   1,
		Data:         &data,
	}, c, nil
}

// series encodes a list of values as R5 SampledData with origin 0 in unit,
// each value rounded to d decimals: regularly spaced values with interval
// (ms), irregular ones with offsets (ms from the sample's start), never both
// (sdd-1).
func series(sr *ohx.Series, unit string, d int) (*r5.SampledData, error) {
	if sr == nil || len(sr.Values) == 0 {
		return nil, errors.New("series is empty")
	}
	sd := &r5.SampledData{
		Origin:       r5.Quantity{Value: number(0), Unit: ptr(unit), System: ptr(ucum), Code: ptr(unit)},
		IntervalUnit: "ms",
		Dimensions:   1,
	}
	if sr.Interval > 0 {
		sd.Interval = number(float64(sr.Interval) / float64(time.Millisecond))
	} else {
		if len(sr.Offsets) != len(sr.Values) {
			return nil, errors.New("series needs an interval or one offset per value")
		}
		buf := make([]byte, 0, len(sr.Offsets)*6)
		for i, off := range sr.Offsets {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = strconv.AppendFloat(buf, float64(off)/float64(time.Millisecond), 'f', -1, 64)
		}
		offsets := string(buf)
		sd.Offsets = &offsets
	}
	buf := make([]byte, 0, len(sr.Values)*6)
	for i, v := range sr.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("series has a non-finite value")
		}
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = appendDecimal(buf, v, d)
	}
	data := string(buf)
	sd.Data = &data
	return sd, nil
}
