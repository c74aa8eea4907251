package fitbittest

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// page is a list page to write: the points of dt at keys (newest first)
// and the token of the next page.
type page struct {
	s         *Server
	u         *user
	dt        *dataType
	keys      []time.Time
	reconcile bool
	next      string
}

// response builds the page as wire values. A reconcile answer names each
// point by dataPointName and carries no data source.
func (pg *page) response() wire.ListResponse {
	resp := wire.ListResponse{DataPoints: make([]wire.DataPoint, len(pg.keys)), NextPageToken: pg.next}
	for i, t := range pg.keys {
		resp.DataPoints[i] = pg.point(t)
	}
	return resp
}

func (pg *page) point(t time.Time) wire.DataPoint {
	p := pg.dt.make(pg.s, pg.u, t)
	if pg.reconcile {
		p.DataPointName, p.Name, p.DataSource = p.Name, "", nil
	}
	return p
}

// write writes the page as writeJSON writes pg.response(), byte for byte,
// but by hand: the dense types (heart rate, steps, HRV, SpO2: thousands of
// points per page) without reflection, and heart rate (86,400 points a day
// at 1 s) straight from its instants without building a point, so that the
// fake is not the bottleneck of the sync benchmarks. Any other point, or a
// value the hand writer does not spell the way encoding/json does, goes
// through json.Marshal.
func (pg *page) write(w http.ResponseWriter) {
	var b []byte
	select {
	case b = <-pageBuffers:
	default:
	}
	b, err := pg.append(b[:0])
	if err != nil {
		writeJSON(w, http.StatusOK, pg.response())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	select {
	case pageBuffers <- b:
	default:
	}
}

// pageBuffers recycles the few MB a full page takes. It is a channel
// rather than a sync.Pool, which drops what it holds at every other
// collection: a fake with a small heap collects about once a page.
var pageBuffers = make(chan []byte, 4)

// append appends the page's JSON and the newline json.Encoder ends with.
func (pg *page) append(b []byte) ([]byte, error) {
	if pg.dt.id != "heart-rate" {
		resp := pg.response()
		return appendList(b, &resp)
	}
	b = slices.Grow(b, len(pg.keys)*heartRateSize+64)
	b = append(b, `{"dataPoints":[`...)
	hw := newHeartRateWriter(pg.u, pg.reconcile)
	for i, t := range pg.keys {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = hw.append(b, t); !ok {
			var err error
			p := pg.point(t)
			if b, err = appendListPoint(b, &p); err != nil {
				return nil, err
			}
		}
	}
	b = append(b, ']')
	return appendNext(b, pg.next)
}

// appendList appends the JSON of resp and the newline json.Encoder ends
// with.
func appendList(b []byte, resp *wire.ListResponse) ([]byte, error) {
	if resp.DataPoints == nil {
		b = append(b, `{"dataPoints":null`...)
	} else {
		b = append(b, `{"dataPoints":[`...)
		for i := range resp.DataPoints {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendListPoint(b, &resp.DataPoints[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return appendNext(b, resp.NextPageToken)
}

// appendListPoint appends p, by hand when appendPoint can.
func appendListPoint(b []byte, p *wire.DataPoint) ([]byte, error) {
	at := len(b)
	b, ok := appendPoint(b, p)
	if ok {
		return b, nil
	}
	j, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append(b[:at], j...), nil
}

// appendNext appends the nextPageToken member (when there is a token) and
// closes the page.
func appendNext(b []byte, next string) ([]byte, error) {
	if next != "" {
		var ok bool
		b = append(b, `,"nextPageToken":`...)
		if b, ok = appendString(b, next); !ok {
			j, err := json.Marshal(next)
			if err != nil {
				return nil, err
			}
			b = append(b, j...)
		}
	}
	return append(b, "}\n"...), nil
}

// appendPoint appends p by hand; ok is false when p is not a dense point
// the hand writer spells as encoding/json does (b is then garbage from len
// at the call on).
func appendPoint(b []byte, p *wire.DataPoint) (_ []byte, ok bool) {
	if p.DailyHeartRateVariability != nil || p.DailyRestingHeartRate != nil || p.DailyOxygenSaturation != nil ||
		p.RespiratoryRateSleepSummary != nil || p.DailyRespiratoryRate != nil || p.DailySleepTemperatureDerivations != nil ||
		p.Weight != nil || p.BodyFat != nil || p.Sleep != nil || p.Electrocardiogram != nil {
		return b, false
	}
	o := object{b: b, ok: true}
	o.open()
	o.str("name", p.Name)
	o.str("dataPointName", p.DataPointName)
	if ds := p.DataSource; ds != nil {
		o.member("dataSource")
		o.str("platform", ds.Platform)
		o.str("recordingMethod", ds.RecordingMethod)
		if d := ds.Device; d != nil {
			o.strings("device", "displayName", d.DisplayName, "manufacturer", d.Manufacturer, "formFactor", d.FormFactor)
		}
		if a := ds.Application; a != nil {
			o.strings("application", "packageName", a.PackageName, "webClientId", a.WebClientID, "googleWebClientId", a.GoogleWebClientID)
		}
		o.close()
	}
	if h := p.HeartRate; h != nil {
		o.member("heartRate")
		o.int64("beatsPerMinute", h.BeatsPerMinute)
		o.sampleTime(&h.SampleTime)
		if m := h.Metadata; m != nil {
			o.strings("metadata", "motionContext", m.MotionContext, "sensorLocation", m.SensorLocation)
		}
		o.close()
	}
	if s := p.Steps; s != nil {
		o.member("steps")
		o.int64("count", s.Count)
		o.member("interval")
		o.time("startTime", s.Interval.StartTime)
		o.duration("startUtcOffset", s.Interval.StartUTCOffset)
		o.time("endTime", s.Interval.EndTime)
		o.duration("endUtcOffset", s.Interval.EndUTCOffset)
		o.civil("civilStartTime", s.Interval.CivilStartTime)
		o.civil("civilEndTime", s.Interval.CivilEndTime)
		o.close()
		o.close()
	}
	if h := p.HeartRateVariability; h != nil {
		o.member("heartRateVariability")
		o.optFloat("rootMeanSquareOfSuccessiveDifferencesMilliseconds", h.RMSSD)
		o.optFloat("standardDeviationMilliseconds", h.SDNN)
		o.sampleTime(&h.SampleTime)
		o.close()
	}
	if s := p.OxygenSaturation; s != nil {
		o.member("oxygenSaturation")
		o.float("percentage", s.Percentage)
		o.sampleTime(&s.SampleTime)
		o.close()
	}
	o.close()
	return o.b, o.ok
}

// object appends the members of nested JSON objects; first tracks whether
// the innermost object has a member yet.
type object struct {
	b     []byte
	first []bool
	ok    bool
}

func (o *object) open() {
	o.b = append(o.b, '{')
	o.first = append(o.first, true)
}

func (o *object) close() {
	o.b = append(o.b, '}')
	o.first = o.first[:len(o.first)-1]
}

func (o *object) key(k string) {
	if !o.first[len(o.first)-1] {
		o.b = append(o.b, ',')
	}
	o.first[len(o.first)-1] = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// member opens the object member k.
func (o *object) member(k string) {
	o.key(k)
	o.open()
}

// strings appends the object member k of omitempty string members, given
// as key, value pairs.
func (o *object) strings(k string, kv ...string) {
	o.member(k)
	for i := 0; i+1 < len(kv); i += 2 {
		o.str(kv[i], kv[i+1])
	}
	o.close()
}

// optFloat appends a float member when v is set.
func (o *object) optFloat(k string, v *wire.Float64) {
	if v != nil {
		o.float(k, *v)
	}
}

// str appends an omitempty string member.
func (o *object) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	var ok bool
	o.b, ok = appendString(o.b, v)
	o.ok = o.ok && ok
}

func (o *object) int64(k string, v wire.Int64) {
	o.key(k)
	o.b = append(o.b, '"')
	o.b = strconv.AppendInt(o.b, int64(v), 10)
	o.b = append(o.b, '"')
}

// float appends a Float64 as its MarshalJSON does.
func (o *object) float(k string, v wire.Float64) {
	o.key(k)
	f := float64(v)
	switch {
	case math.IsNaN(f):
		o.b = append(o.b, `"NaN"`...)
	case math.IsInf(f, 1):
		o.b = append(o.b, `"Infinity"`...)
	case math.IsInf(f, -1):
		o.b = append(o.b, `"-Infinity"`...)
	default:
		o.b = strconv.AppendFloat(o.b, f, 'g', -1, 64)
	}
}

// time appends an RFC 3339 time as time.Time's MarshalJSON does (which
// refuses years outside 0 to 9999: left to encoding/json).
func (o *object) time(k string, t time.Time) {
	o.key(k)
	if y := t.Year(); y < 0 || y > 9999 {
		o.ok = false
		return
	}
	o.b = append(o.b, '"')
	o.b = t.AppendFormat(o.b, time.RFC3339Nano)
	o.b = append(o.b, '"')
}

func (o *object) duration(k string, d *wire.Duration) {
	if d == nil {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	if v := time.Duration(*d); v%time.Second == 0 {
		o.b = strconv.AppendInt(o.b, int64(v/time.Second), 10)
		o.b = append(o.b, 's')
	} else {
		o.b = append(o.b, wire.FormatDuration(v)...)
	}
	o.b = append(o.b, '"')
}

func (o *object) sampleTime(st *wire.SampleTime) {
	o.member("sampleTime")
	o.time("physicalTime", st.PhysicalTime)
	o.duration("utcOffset", st.UTCOffset)
	o.civil("civilTime", st.CivilTime)
	o.close()
}

// civil appends an omitzero CivilDateTime.
func (o *object) civil(k string, c wire.CivilDateTime) {
	if c == (wire.CivilDateTime{}) {
		return
	}
	o.member(k)
	if c.Date != (wire.Date{}) {
		o.member("date")
		o.int("year", c.Date.Year)
		o.int("month", c.Date.Month)
		o.int("day", c.Date.Day)
		o.close()
	}
	if c.Time != (wire.TimeOfDay{}) {
		o.member("time")
		o.int("hours", c.Time.Hours)
		o.int("minutes", c.Time.Minutes)
		o.int("seconds", c.Time.Seconds)
		o.int("nanos", c.Time.Nanos)
		o.close()
	}
	o.close()
}

// int appends an omitempty int member.
func (o *object) int(k string, v int) {
	if v == 0 {
		return
	}
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
}

// appendString appends s quoted; ok is false when encoding/json would
// escape something in it.
func appendString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}
