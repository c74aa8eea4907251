package fitbit

import (
	"strconv"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// mapper turns Google data points into ohx samples for one link and one
// request. want filters the ohx types yielded (ECG companions always pass).
type mapper struct {
	loc  *time.Location
	want map[ohx.DataType]bool
}

func (m *mapper) wants(t ohx.DataType) bool { return m.want == nil || m.want[t] }

// offsetAt returns the offset the API gave, or the link zone's offset at t
// when the point carries none (Health Connect points, historic ECGs).
func (m *mapper) offsetAt(d *wire.Duration, t time.Time) time.Duration {
	if d != nil {
		return time.Duration(*d)
	}
	_, off := t.In(m.loc).Zone()
	return time.Duration(off) * time.Second
}

// base returns a sample with the point's source and identity.
func (m *mapper) base(p *wire.DataPoint, t ohx.DataType) ohx.Sample {
	s := ohx.Sample{Type: t, Provider: Name, RecordID: p.ID(), Recording: ohx.RecordedUnknown}
	if info, ok := t.Info(); ok {
		s.Unit = info.Unit
	}
	if ds := p.DataSource; ds != nil {
		s.Recording = recording(ds.RecordingMethod)
		if ds.Device != nil {
			s.DeviceName = ds.Device.DisplayName
		}
	}
	return s
}

func (m *mapper) instant(s *ohx.Sample, st wire.SampleTime) {
	s.Start = st.PhysicalTime.UTC()
	s.End = s.Start
	s.StartOffset = m.offsetAt(st.UTCOffset, s.Start)
	s.EndOffset = s.StartOffset
}

func (m *mapper) interval(s *ohx.Sample, iv wire.Interval) {
	s.Start = iv.StartTime.UTC()
	s.End = iv.EndTime.UTC()
	s.StartOffset = m.offsetAt(iv.StartUTCOffset, s.Start)
	s.EndOffset = m.offsetAt(iv.EndUTCOffset, s.End)
}

// daily spans the civil day d in the link's zone: [local midnight, next local
// midnight).
func (m *mapper) daily(s *ohx.Sample, d wire.Date) bool {
	if !d.Valid() {
		return false
	}
	start := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, m.loc)
	end := time.Date(d.Year, time.Month(d.Month), d.Day+1, 0, 0, 0, 0, m.loc)
	_, so := start.Zone()
	_, eo := end.Zone()
	s.Start, s.End = start.UTC(), end.UTC()
	s.StartOffset, s.EndOffset = time.Duration(so)*time.Second, time.Duration(eo)*time.Second
	return true
}

func finite(v *wire.Float64) (float64, bool) {
	if v == nil || !v.Valid() {
		return 0, false
	}
	return float64(*v), true
}

// mapPoint appends the samples of one data point to out, each with the
// Google Health data type it came from. Points without a usable value
// (absent or "NaN") yield nothing.
func (m *mapper) mapPoint(out []ohx.Sample, p *wire.DataPoint) []ohx.Sample {
	n := len(out)
	out = m.mapValues(out, p)
	if dt := dataTypeOf(p); dt != "" {
		for i := n; i < len(out); i++ {
			out[i].ProviderType = dt
		}
	}
	return out
}

func (m *mapper) mapValues(out []ohx.Sample, p *wire.DataPoint) []ohx.Sample {
	switch {
	case p.HeartRate != nil && m.wants(ohx.HeartRate):
		s := m.base(p, ohx.HeartRate)
		m.instant(&s, p.HeartRate.SampleTime)
		s.Value = float64(p.HeartRate.BeatsPerMinute)
		return append(out, s)
	case p.Steps != nil && m.wants(ohx.Steps):
		s := m.base(p, ohx.Steps)
		m.interval(&s, p.Steps.Interval)
		s.Value = float64(p.Steps.Count)
		return append(out, s)
	case p.HeartRateVariability != nil:
		h := p.HeartRateVariability
		if v, ok := finite(h.RMSSD); ok && m.wants(ohx.HRVRMSSD) {
			s := m.base(p, ohx.HRVRMSSD)
			m.instant(&s, h.SampleTime)
			s.Value = v
			out = append(out, s)
		}
		if v, ok := finite(h.SDNN); ok && m.wants(ohx.HRVSDNN) {
			s := m.base(p, ohx.HRVSDNN)
			m.instant(&s, h.SampleTime)
			s.Value = v
			out = append(out, s)
		}
		return out
	case p.DailyHeartRateVariability != nil && m.wants(ohx.DailyHRV):
		d := p.DailyHeartRateVariability
		return m.dailyValue(out, p, ohx.DailyHRV, d.Date, d.AverageHeartRateVariabilityMs)
	case p.DailyRestingHeartRate != nil && m.wants(ohx.DailyRestingHeartRate):
		d := p.DailyRestingHeartRate
		v := wire.Float64(d.BeatsPerMinute)
		return m.dailyValue(out, p, ohx.DailyRestingHeartRate, d.Date, &v)
	case p.OxygenSaturation != nil && m.wants(ohx.SpO2):
		v, ok := finite(&p.OxygenSaturation.Percentage)
		if !ok {
			return out
		}
		s := m.base(p, ohx.SpO2)
		m.instant(&s, p.OxygenSaturation.SampleTime)
		s.Value = v
		return append(out, s)
	case p.DailyOxygenSaturation != nil && m.wants(ohx.DailySpO2):
		d := p.DailyOxygenSaturation
		return m.dailyValue(out, p, ohx.DailySpO2, d.Date, d.AveragePercentage)
	case p.RespiratoryRateSleepSummary != nil && m.wants(ohx.RespiratoryRate):
		r := p.RespiratoryRateSleepSummary
		if r.FullSleepStats == nil {
			return out
		}
		v, ok := finite(r.FullSleepStats.BreathsPerMinute)
		if !ok {
			return out
		}
		s := m.base(p, ohx.RespiratoryRate)
		m.instant(&s, r.SampleTime)
		s.Value = v
		return append(out, s)
	case p.DailyRespiratoryRate != nil && m.wants(ohx.DailyRespiratoryRate):
		d := p.DailyRespiratoryRate
		return m.dailyValue(out, p, ohx.DailyRespiratoryRate, d.Date, d.BreathsPerMinute)
	case p.DailySleepTemperatureDerivations != nil:
		return m.skinTemperature(out, p)
	case p.Weight != nil && m.wants(ohx.BodyWeight):
		v, ok := finite(&p.Weight.WeightGrams)
		if !ok {
			return out
		}
		s := m.base(p, ohx.BodyWeight)
		m.instant(&s, p.Weight.SampleTime)
		s.Value = v / 1000
		return append(out, s)
	case p.BodyFat != nil && m.wants(ohx.BodyFatRatio):
		v, ok := finite(&p.BodyFat.Percentage)
		if !ok {
			return out
		}
		s := m.base(p, ohx.BodyFatRatio)
		m.instant(&s, p.BodyFat.SampleTime)
		s.Value = v
		return append(out, s)
	case p.Sleep != nil && m.wants(ohx.SleepSession):
		return m.sleep(out, p)
	case p.Electrocardiogram != nil && m.wants(ohx.ECG):
		return m.ecg(out, p)
	}
	return out
}

func (m *mapper) dailyValue(out []ohx.Sample, p *wire.DataPoint, t ohx.DataType, d wire.Date, v *wire.Float64) []ohx.Sample {
	f, ok := finite(v)
	if !ok {
		return out
	}
	s := m.base(p, t)
	if !m.daily(&s, d) {
		return out
	}
	s.Value = f
	return append(out, s)
}

// skinTemperature maps the nightly skin temperature: the absolute nightly
// mean (SkinTemperature) and its deviation from the 30-day baseline
// (SkinTemperatureDeviation, with the baseline as a component, only when the
// baseline is a number).
func (m *mapper) skinTemperature(out []ohx.Sample, p *wire.DataPoint) []ohx.Sample {
	d := p.DailySleepTemperatureDerivations
	nightly, ok := finite(d.NightlyTemperatureCelsius)
	if !ok {
		return out
	}
	baseline, hasBaseline := finite(d.BaselineTemperatureCelsius)
	if m.wants(ohx.SkinTemperature) {
		s := m.base(p, ohx.SkinTemperature)
		if m.daily(&s, d.Date) {
			s.Value = nightly
			out = append(out, s)
		}
	}
	if hasBaseline && m.wants(ohx.SkinTemperatureDeviation) {
		s := m.base(p, ohx.SkinTemperatureDeviation)
		if m.daily(&s, d.Date) {
			s.Value = nightly - baseline
			s.Components = []ohx.Component{{Code: ohx.ComponentBaseline, Value: baseline, Unit: "Cel"}}
			out = append(out, s)
		}
	}
	return out
}

// sleep maps a session with its stage durations in seconds. Stage totals
// come from the stages when present, else from the provider's summary.
func (m *mapper) sleep(out []ohx.Sample, p *wire.DataPoint) []ohx.Sample {
	sl := p.Sleep
	s := m.base(p, ohx.SleepSession)
	m.interval(&s, sl.Interval)
	if !s.End.After(s.Start) {
		return out
	}
	var light, deep, rem, awake, asleep float64
	for _, st := range sl.Stages {
		d := st.EndTime.Sub(st.StartTime).Seconds()
		if d <= 0 {
			continue
		}
		switch st.Type {
		case "LIGHT":
			light += d
		case "DEEP":
			deep += d
		case "REM":
			rem += d
		case "AWAKE", "RESTLESS":
			awake += d
		case "ASLEEP":
			asleep += d
		}
	}
	total := light + deep + rem + asleep
	if len(sl.Stages) == 0 && sl.Summary != nil {
		if sl.Summary.MinutesAsleep != nil {
			total = float64(*sl.Summary.MinutesAsleep) * 60
		}
		if sl.Summary.MinutesAwake != nil {
			awake = float64(*sl.Summary.MinutesAwake) * 60
		}
		for _, ss := range sl.Summary.StagesSummary {
			switch ss.Type {
			case "LIGHT":
				light = float64(ss.Minutes) * 60
			case "DEEP":
				deep = float64(ss.Minutes) * 60
			case "REM":
				rem = float64(ss.Minutes) * 60
			}
		}
	}
	s.Components = []ohx.Component{
		{Code: ohx.ComponentSleepTotal, Value: total, Unit: "s"},
		{Code: ohx.ComponentInBed, Value: s.End.Sub(s.Start).Seconds(), Unit: "s"},
	}
	if sl.Type != "CLASSIC" && (light+deep+rem) > 0 {
		s.Components = append(s.Components,
			ohx.Component{Code: ohx.ComponentSleepLight, Value: light, Unit: "s"},
			ohx.Component{Code: ohx.ComponentSleepDeep, Value: deep, Unit: "s"},
			ohx.Component{Code: ohx.ComponentSleepREM, Value: rem, Unit: "s"},
		)
	}
	s.Components = append(s.Components, ohx.Component{Code: ohx.ComponentSleepAwake, Value: awake, Unit: "s"})
	if sl.CreateTime != nil {
		s.Created = sl.CreateTime.UTC()
	}
	if sl.UpdateTime != nil {
		s.Modified = sl.UpdateTime.UTC()
	}
	return append(out, s)
}

// ecg maps an electrocardiogram with its whole waveform, then its average
// heart rate as a companion HeartRate sample of the same group.
func (m *mapper) ecg(out []ohx.Sample, p *wire.DataPoint) []ohx.Sample {
	e := p.Electrocardiogram
	s := m.base(p, ohx.ECG)
	m.interval(&s, e.Interval)
	if s.Start.IsZero() {
		return out
	}
	if e.SamplingFrequencyHertz > 0 && !s.End.After(s.Start) && len(e.WaveformSamples) > 0 {
		// Sessions may report start == end; the waveform gives the length.
		s.End = s.Start.Add(time.Duration(float64(len(e.WaveformSamples)) / float64(e.SamplingFrequencyHertz) * float64(time.Second)))
		s.EndOffset = s.StartOffset
	}
	w := &ohx.Waveform{
		Samples:           e.WaveformSamples,
		SamplingFrequency: float64(e.SamplingFrequencyHertz),
		Lead:              "I",
		Classification:    classification(e.ResultClassification),
	}
	if e.MillivoltsScalingFactor != 0 {
		w.FactorToMillivolts = 1 / float64(e.MillivoltsScalingFactor)
	}
	s.Waveform = w
	if s.DeviceName == "" && e.MedicalDeviceInfo != nil {
		s.DeviceName = e.MedicalDeviceInfo.DeviceModel
	}
	s.Group = s.RecordID
	if s.Group == "" {
		s.Group = "ecg-" + strconv.FormatInt(s.Start.UnixNano(), 10)
	}
	out = append(out, s)
	if e.BeatsPerMinuteAvg != nil && *e.BeatsPerMinuteAvg > 0 {
		hr := m.base(p, ohx.HeartRate)
		hr.DeviceName = s.DeviceName
		hr.Start, hr.End = s.Start, s.Start
		hr.StartOffset, hr.EndOffset = s.StartOffset, s.StartOffset
		hr.Value = float64(*e.BeatsPerMinuteAvg)
		hr.Group = s.Group
		hr.CompanionOf = ohx.ECG
		out = append(out, hr)
	}
	return out
}

func recording(method string) ohx.RecordingMethod {
	switch method {
	case "MANUAL":
		return ohx.RecordedByUser
	case "PASSIVELY_MEASURED", "ACTIVELY_MEASURED":
		return ohx.RecordedByDevice
	case "DERIVED":
		return ohx.RecordedDerived
	}
	return ohx.RecordedUnknown
}

func classification(c string) ohx.ECGClassification {
	switch c {
	case "NORMAL_SINUS_RHYTHM":
		return ohx.ECGSinusRhythm
	case "ATRIAL_FIBRILLATION":
		return ohx.ECGAtrialFibrillation
	case "INCONCLUSIVE", "INCONCLUSIVE_HIGH_HEART_RATE", "INCONCLUSIVE_LOW_HEART_RATE", "UNREADABLE":
		return ohx.ECGInconclusive
	}
	return ohx.ECGUnclassified
}
