package oura

import (
	"math"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
)

// mapper turns Oura documents into ohx samples for one link. want filters
// the types yielded.
type mapper struct {
	loc  *time.Location
	want map[ohx.DataType]bool
}

func (m *mapper) wants(t ohx.DataType) bool { return m.want == nil || m.want[t] }

// Oura's own names of the measurements ohx maps (ohx.Sample.ProviderType):
// the collection's path below /v2/usercollection/ and, for a field of its
// documents, "/" and the field's name, as Oura's OpenAPI writes them
// (docs/providers/oura.md). fhirmap writes the name as a coding in
// {BaseURI}:oura:type beside the standard code.
const (
	typeHeartRate       = "heartrate/bpm"
	typeSleep           = "sleep" // the sleep period document
	typeSleepHRV        = "sleep/hrv"
	typeAverageHRV      = "sleep/average_hrv"
	typeLowestHeartRate = "sleep/lowest_heart_rate"
	typeAverageBreath   = "sleep/average_breath"
	typeSteps           = "daily_activity/steps"
	typeTempDeviation   = "daily_readiness/temperature_deviation"
	typeSpO2Average     = "daily_spo2/spo2_percentage.average"
	typeVO2Max          = "vO2_max/vo2_max"
)

// sample returns a sample of t with the catalog unit and Oura's name of the
// measurement ptype.
func sample(t ohx.DataType, rec ohx.RecordingMethod, recordID, ptype string) ohx.Sample {
	s := ohx.Sample{Type: t, Provider: Name, Recording: rec, RecordID: recordID, ProviderType: ptype}
	if info, ok := t.Info(); ok {
		s.Unit = info.Unit
	}
	return s
}

// value returns *v when it is a finite number.
func value(v *float64) (float64, bool) {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return 0, false
	}
	return *v, true
}

// positive returns *v when it is a finite number above zero.
func positive(v *float64) (float64, bool) {
	f, ok := value(v)
	return f, ok && f > 0
}

// offsetIn returns loc's UTC offset at t.
func offsetIn(loc *time.Location, t time.Time) time.Duration {
	_, off := t.In(loc).Zone()
	return time.Duration(off) * time.Second
}

// daily spans civil day d in the link's zone: [local midnight, next local
// midnight).
func (m *mapper) daily(s *ohx.Sample, d wire.Date) bool {
	if !d.Valid() {
		return false
	}
	start, end := d.In(m.loc), d.AddDays(1).In(m.loc)
	s.Start, s.End = start.UTC(), end.UTC()
	s.StartOffset, s.EndOffset = offsetIn(m.loc, start), offsetIn(m.loc, end)
	return true
}

// instant sets a point in time with the offset Oura wrote it with.
func instant(s *ohx.Sample, t wire.Time) bool {
	if t.IsZero() {
		return false
	}
	s.Start, s.End = t.UTC(), t.UTC()
	s.StartOffset, s.EndOffset = t.Offset(), t.Offset()
	return true
}

// sourceRank orders heart-rate sources for duplicates at one timestamp: the
// more deliberate measurement wins (a live reading or a session over the
// background reading of the same instant).
var sourceRank = map[string]int{"live": 6, "session": 5, "workout": 4, "sleep": 3, "rest": 2, "awake": 1}

// heartRates maps heartrate rows of every source inside w. Oura reports one
// instant under several sources; one sample per instant is kept, from the
// best-ranked source (ties: the first row). Rows are UTC, so the offset is
// the link zone's.
func (m *mapper) heartRates(out []ohx.Sample, rows []wire.HeartRate, w ohx.Window) []ohx.Sample {
	if !m.wants(ohx.HeartRate) {
		return out
	}
	type kept struct{ index, rank int }
	at := map[int64]kept{} // unix nanos → the sample kept
	for i := range rows {
		r := &rows[i]
		ts := r.Timestamp.Time
		if ts.IsZero() && r.TimestampUnix != nil {
			ts = time.UnixMilli(*r.TimestampUnix)
		}
		bpm, ok := positive(&r.BPM)
		if ts.IsZero() || !ok || !w.Contains(ts.UTC()) {
			continue
		}
		s := sample(ohx.HeartRate, ohx.RecordedByDevice, "", typeHeartRate)
		s.Start, s.End = ts.UTC(), ts.UTC()
		s.StartOffset = offsetIn(m.loc, s.Start)
		s.EndOffset = s.StartOffset
		s.Value = bpm
		k := s.Start.UnixNano()
		rank := sourceRank[r.Source]
		if prev, dup := at[k]; dup {
			if rank > prev.rank {
				out[prev.index] = s
				at[k] = kept{prev.index, rank}
			}
			continue
		}
		at[k] = kept{len(out), rank}
		out = append(out, s)
	}
	return out
}

// keptSleep reports whether a sleep period is a real one: "deleted" periods
// were removed by the user and "rest" periods are rejected detections.
// Unknown future types are left out too.
func keptSleep(typ string) bool {
	switch typ {
	case "long_sleep", "sleep", "late_nap":
		return true
	}
	return false
}

// maxSeriesItems bounds one series (a day at the 5-minute interval is 288).
const maxSeriesItems = 4096

// sleeps maps sleep periods: each kept period is a SleepSession with its
// stage durations and its 5-minute rMSSD series (HRVRMSSD); the main period
// of each day (its longest long_sleep) gives the night's DailyHRV (average
// rMSSD), DailyRestingHeartRate (the night's lowest heart rate, which Oura
// uses as resting heart rate) and DailyRespiratoryRate (average_breath),
// each over that period (see nightValue).
func (m *mapper) sleeps(out []ohx.Sample, docs []wire.Sleep) []ohx.Sample {
	mains := map[wire.Date]*wire.Sleep{}
	for i := range docs {
		d := &docs[i]
		if !keptSleep(d.Type) {
			continue
		}
		out = m.sleepSession(out, d)
		out = m.hrvSeries(out, d)
		if d.Type == "long_sleep" && d.Day.Valid() {
			if cur, ok := mains[d.Day]; !ok || longer(d, cur) {
				mains[d.Day] = d
			}
		}
	}
	days := make([]wire.Date, 0, len(mains))
	for d := range mains {
		days = append(days, d)
	}
	slices.SortFunc(days, wire.Date.Compare)
	for _, day := range days {
		d := mains[day]
		out = m.nightValue(out, ohx.DailyHRV, d, d.AverageHRV, typeAverageHRV)
		out = m.nightValue(out, ohx.DailyRestingHeartRate, d, d.LowestHeartRate, typeLowestHeartRate)
		out = m.nightValue(out, ohx.DailyRespiratoryRate, d, d.AverageBreath, typeAverageBreath)
	}
	return out
}

// longer reports whether sleep a beats b as a day's main period: more total
// sleep, then earlier start, then smaller id.
func longer(a, b *wire.Sleep) bool {
	ta, _ := value(a.TotalSleepDuration)
	tb, _ := value(b.TotalSleepDuration)
	if ta != tb {
		return ta > tb
	}
	if !a.BedtimeStart.Equal(b.BedtimeStart.Time) {
		return a.BedtimeStart.Before(b.BedtimeStart.Time)
	}
	return a.ID < b.ID
}

// nightValue appends a summary of sleep period d with a positive value: Oura
// computed it over the period, so it spans the period, [bedtime_start,
// bedtime_end); a period without a length dates it by its day instead (a
// date-only value). Its record id is the period's, so Oura revising the
// period's times keeps its resource id.
func (m *mapper) nightValue(out []ohx.Sample, t ohx.DataType, d *wire.Sleep, v *float64, ptype string) []ohx.Sample {
	f, ok := positive(v)
	if !ok || !m.wants(t) {
		return out
	}
	s := sample(t, ohx.RecordedDerived, d.ID, ptype)
	if !bedtime(&s, d) && !m.daily(&s, d.Day) {
		return out
	}
	s.Value = f
	return append(out, s)
}

// bedtime spans sleep period d, [bedtime_start, bedtime_end), with the
// offsets Oura wrote; false when the period has no length.
func bedtime(s *ohx.Sample, d *wire.Sleep) bool {
	if d.BedtimeStart.IsZero() || d.BedtimeEnd.IsZero() {
		return false
	}
	s.Start, s.End = d.BedtimeStart.UTC(), d.BedtimeEnd.UTC()
	s.StartOffset, s.EndOffset = d.BedtimeStart.Offset(), d.BedtimeEnd.Offset()
	return s.End.After(s.Start)
}

// sleepSession maps a period with its durations in seconds: total sleep,
// time in bed, light, deep, REM and awake.
func (m *mapper) sleepSession(out []ohx.Sample, d *wire.Sleep) []ohx.Sample {
	if !m.wants(ohx.SleepSession) {
		return out
	}
	s := sample(ohx.SleepSession, ohx.RecordedByDevice, d.ID, typeSleep)
	if !bedtime(&s, d) {
		return out
	}
	total, ok := value(d.TotalSleepDuration)
	if !ok || total < 0 {
		return out
	}
	inBed, ok := value(d.TimeInBed)
	if !ok || inBed <= 0 {
		inBed = s.End.Sub(s.Start).Seconds()
	}
	s.Components = []ohx.Component{
		{Code: ohx.ComponentSleepTotal, Value: total, Unit: "s"},
		{Code: ohx.ComponentInBed, Value: inBed, Unit: "s"},
	}
	for _, c := range []struct {
		code string
		v    *float64
	}{
		{ohx.ComponentSleepLight, d.LightSleepDuration},
		{ohx.ComponentSleepDeep, d.DeepSleepDuration},
		{ohx.ComponentSleepREM, d.RemSleepDuration},
		{ohx.ComponentSleepAwake, d.AwakeTime},
	} {
		if v, ok := value(c.v); ok && v >= 0 {
			s.Components = append(s.Components, ohx.Component{Code: c.code, Value: v, Unit: "s"})
		}
	}
	return append(out, s)
}

// hrvSeries maps the period's hrv series: each non-null item is the rMSSD
// (ms) of the 5-minute interval it starts, an instant at the interval's
// start. Oura's HRV is rMSSD, never SDNN.
func (m *mapper) hrvSeries(out []ohx.Sample, d *wire.Sleep) []ohx.Sample {
	sr := d.HRV
	if !m.wants(ohx.HRVRMSSD) || sr == nil || sr.Timestamp.IsZero() || !(sr.Interval > 0) || sr.Interval > 86400 {
		return out
	}
	step := time.Duration(sr.Interval * float64(time.Second))
	for i, it := range sr.Items {
		if i >= maxSeriesItems {
			break
		}
		v, ok := positive(it)
		if !ok {
			continue
		}
		s := sample(ohx.HRVRMSSD, ohx.RecordedByDevice, "", typeSleepHRV)
		t := sr.Timestamp.Add(time.Duration(i) * step)
		s.Start, s.End = t.UTC(), t.UTC()
		s.StartOffset, s.EndOffset = sr.Timestamp.Offset(), sr.Timestamp.Offset()
		s.Value = v
		out = append(out, s)
	}
	return out
}

// docSamples appends a sample of t (recording rec, Oura's name ptype) for each document
// that fill accepts: fill sets the sample's record id, time and value from
// the document and reports whether the document has them.
func docSamples[D any](m *mapper, out []ohx.Sample, t ohx.DataType, rec ohx.RecordingMethod, ptype string, docs []D, fill func(*D, *ohx.Sample) bool) []ohx.Sample {
	if !m.wants(t) {
		return out
	}
	for i := range docs {
		s := sample(t, rec, "", ptype)
		if fill(&docs[i], &s) {
			out = append(out, s)
		}
	}
	return out
}

// activities maps daily_activity's steps: one Steps sample per Oura day,
// which runs from 04:00 local (the document's timestamp) for 24 hours.
func (m *mapper) activities(out []ohx.Sample, docs []wire.DailyActivity) []ohx.Sample {
	return docSamples(m, out, ohx.Steps, ohx.RecordedByDevice, typeSteps, docs, func(d *wire.DailyActivity, s *ohx.Sample) bool {
		steps, ok := value(d.Steps)
		if !ok || steps < 0 {
			return false
		}
		switch {
		case !d.Timestamp.IsZero():
			s.Start, s.StartOffset = d.Timestamp.UTC(), d.Timestamp.Offset()
		case d.Day.Valid():
			start := d.Day.In(m.loc).Add(4 * time.Hour)
			s.Start, s.StartOffset = start.UTC(), offsetIn(m.loc, start)
		default:
			return false
		}
		s.End, s.EndOffset = s.Start.Add(24*time.Hour), s.StartOffset
		s.RecordID, s.Value = d.ID, steps
		return true
	})
}

// readiness maps the readiness temperature_deviation: the night's skin
// temperature deviation from the user's baseline, in °C (Oura gives no
// baseline value).
func (m *mapper) readiness(out []ohx.Sample, docs []wire.DailyReadiness) []ohx.Sample {
	return docSamples(m, out, ohx.SkinTemperatureDeviation, ohx.RecordedDerived, typeTempDeviation, docs, func(d *wire.DailyReadiness, s *ohx.Sample) bool {
		v, ok := value(d.TemperatureDeviation)
		s.RecordID, s.Value = d.ID, v
		return ok && m.daily(s, d.Day)
	})
}

// spo2 maps daily_spo2's nightly average (Oura has no SpO2 series).
func (m *mapper) spo2(out []ohx.Sample, docs []wire.DailySpO2) []ohx.Sample {
	return docSamples(m, out, ohx.DailySpO2, ohx.RecordedDerived, typeSpO2Average, docs, func(d *wire.DailySpO2, s *ohx.Sample) bool {
		if d.SpO2Percentage == nil {
			return false
		}
		v, ok := positive(d.SpO2Percentage.Average)
		s.RecordID, s.Value = d.ID, v
		return ok && v <= 100 && m.daily(s, d.Day)
	})
}

// vo2Max maps vO2_max estimates (ml/kg/min) at their timestamp, or, when
// they have none, dated by their day alone (a date-only value: Oura gives no
// time, so ohx invents none).
func (m *mapper) vo2Max(out []ohx.Sample, docs []wire.VO2Max) []ohx.Sample {
	return docSamples(m, out, ohx.VO2Max, ohx.RecordedDerived, typeVO2Max, docs, func(d *wire.VO2Max, s *ohx.Sample) bool {
		v, ok := positive(d.VO2Max)
		if !ok {
			return false
		}
		s.RecordID, s.Value = d.ID, v
		return instant(s, d.Timestamp) || m.daily(s, d.Day)
	})
}
