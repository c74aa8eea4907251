package wire

import (
	"encoding/json"
	"time"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// pointDecoder decodes one data point at a time into storage it reuses, so
// the dense types cost no allocation per point beyond the strings that
// differ from point to point.
type pointDecoder struct {
	s     jsonscan.Scanner
	p     DataPoint
	store pointStore
	names interner
	slow  int // points decoded by encoding/json
}

// pointStore holds what a fast-path DataPoint points to.
type pointStore struct {
	ds   DataSource
	dev  Device
	app  Application
	hr   HeartRate
	meta HeartRateMetadata
	st   Steps
	hrv  HeartRateVariability
	spo2 OxygenSaturation
	off  [4]Duration // sample time / interval start and end offsets
	f    [2]Float64  // HRV values
}

// decode returns the point of raw: by the fast path when raw has the shape
// it knows, else by encoding/json from raw alone.
func (d *pointDecoder) decode(raw []byte) (*DataPoint, error) {
	d.p = DataPoint{}
	d.s.Reset(raw)
	if d.point() && d.s.End() {
		return &d.p, nil
	}
	d.slow++
	p := new(DataPoint)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, err
	}
	return p, nil
}

// seen marks key bit b of an object as read; a repeated key leaves the fast
// path (encoding/json merges repeats, which the fast path does not mimic).
func seen(mask *uint32, b uint32) bool {
	if *mask&b != 0 {
		return false
	}
	*mask |= b
	return true
}

func (d *pointDecoder) point() bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "name":
			v, ok := d.s.String()
			d.p.Name = string(v)
			return ok && seen(&mask, 1)
		case "dataPointName":
			v, ok := d.s.String()
			d.p.DataPointName = string(v)
			return ok && seen(&mask, 2)
		case "dataSource":
			d.store.ds = DataSource{}
			d.p.DataSource = &d.store.ds
			return seen(&mask, 4) && d.dataSource(&d.store.ds)
		case "heartRate":
			h := &d.store.hr
			*h = HeartRate{}
			d.p.HeartRate = h
			return seen(&mask, 8) && d.heartRate(h)
		case "steps":
			st := &d.store.st
			*st = Steps{}
			d.p.Steps = st
			return seen(&mask, 16) && d.steps(st)
		case "heartRateVariability":
			h := &d.store.hrv
			*h = HeartRateVariability{}
			d.p.HeartRateVariability = h
			return seen(&mask, 32) && d.hrv(h)
		case "oxygenSaturation":
			o := &d.store.spo2
			*o = OxygenSaturation{}
			d.p.OxygenSaturation = o
			return seen(&mask, 64) && d.spo2(o)
		}
		return false
	})
}

func (d *pointDecoder) dataSource(ds *DataSource) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "platform":
			return seen(&mask, 1) && d.str(&ds.Platform)
		case "recordingMethod":
			return seen(&mask, 2) && d.str(&ds.RecordingMethod)
		case "device":
			dev := &d.store.dev
			*dev = Device{}
			ds.Device = dev
			var m uint32
			return seen(&mask, 4) && d.s.Object(func(k []byte) bool {
				switch string(k) {
				case "displayName":
					return seen(&m, 1) && d.str(&dev.DisplayName)
				case "manufacturer":
					return seen(&m, 2) && d.str(&dev.Manufacturer)
				case "formFactor":
					return seen(&m, 4) && d.str(&dev.FormFactor)
				}
				return false
			})
		case "application":
			app := &d.store.app
			*app = Application{}
			ds.Application = app
			var m uint32
			return seen(&mask, 8) && d.s.Object(func(k []byte) bool {
				switch string(k) {
				case "packageName":
					return seen(&m, 1) && d.str(&app.PackageName)
				case "webClientId":
					return seen(&m, 2) && d.str(&app.WebClientID)
				case "googleWebClientId":
					return seen(&m, 4) && d.str(&app.GoogleWebClientID)
				}
				return false
			})
		}
		return false
	})
}

// str reads a plain string into *dst, interned: data sources repeat on
// every point.
func (d *pointDecoder) str(dst *string) bool {
	v, ok := d.s.String()
	if ok {
		*dst = d.names.get(v)
	}
	return ok
}

func (d *pointDecoder) heartRate(h *HeartRate) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "beatsPerMinute":
			v, ok := d.s.Scalar()
			return ok && seen(&mask, 1) && h.BeatsPerMinute.UnmarshalJSON(v) == nil
		case "sampleTime":
			return seen(&mask, 2) && d.sampleTime(&h.SampleTime, &d.store.off[0])
		case "metadata":
			m := &d.store.meta
			*m = HeartRateMetadata{}
			h.Metadata = m
			var mm uint32
			return seen(&mask, 4) && d.s.Object(func(k []byte) bool {
				switch string(k) {
				case "motionContext":
					return seen(&mm, 1) && d.str(&m.MotionContext)
				case "sensorLocation":
					return seen(&mm, 2) && d.str(&m.SensorLocation)
				}
				return false
			})
		}
		return false
	})
}

func (d *pointDecoder) steps(st *Steps) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "count":
			v, ok := d.s.Scalar()
			return ok && seen(&mask, 1) && st.Count.UnmarshalJSON(v) == nil
		case "interval":
			return seen(&mask, 2) && d.interval(&st.Interval)
		}
		return false
	})
}

func (d *pointDecoder) hrv(h *HeartRateVariability) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "rootMeanSquareOfSuccessiveDifferencesMilliseconds":
			h.RMSSD = &d.store.f[0]
			return seen(&mask, 1) && d.float(h.RMSSD)
		case "standardDeviationMilliseconds":
			h.SDNN = &d.store.f[1]
			return seen(&mask, 2) && d.float(h.SDNN)
		case "sampleTime":
			return seen(&mask, 4) && d.sampleTime(&h.SampleTime, &d.store.off[0])
		}
		return false
	})
}

func (d *pointDecoder) spo2(o *OxygenSaturation) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "percentage":
			return seen(&mask, 1) && d.float(&o.Percentage)
		case "sampleTime":
			return seen(&mask, 2) && d.sampleTime(&o.SampleTime, &d.store.off[0])
		}
		return false
	})
}

// float reads a number (the strings "NaN" and friends take the slow path).
func (d *pointDecoder) float(dst *Float64) bool {
	v, ok := d.s.Number()
	return ok && dst.UnmarshalJSON(v) == nil
}

// timeOf reads an RFC 3339 string with time.Time's own decoder.
func (d *pointDecoder) timeOf(dst *time.Time) bool {
	v, ok := d.s.QuotedString()
	return ok && dst.UnmarshalJSON(v) == nil
}

func (d *pointDecoder) offset(dst **Duration, store *Duration) bool {
	v, ok := d.s.QuotedString()
	if !ok {
		return false
	}
	*store = 0
	*dst = store
	return store.UnmarshalJSON(v) == nil
}

func (d *pointDecoder) sampleTime(st *SampleTime, off *Duration) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "physicalTime":
			return seen(&mask, 1) && d.timeOf(&st.PhysicalTime)
		case "utcOffset":
			return seen(&mask, 2) && d.offset(&st.UTCOffset, off)
		case "civilTime":
			return seen(&mask, 4) && d.civil(&st.CivilTime)
		}
		return false
	})
}

func (d *pointDecoder) interval(iv *Interval) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "startTime":
			return seen(&mask, 1) && d.timeOf(&iv.StartTime)
		case "startUtcOffset":
			return seen(&mask, 2) && d.offset(&iv.StartUTCOffset, &d.store.off[1])
		case "endTime":
			return seen(&mask, 4) && d.timeOf(&iv.EndTime)
		case "endUtcOffset":
			return seen(&mask, 8) && d.offset(&iv.EndUTCOffset, &d.store.off[2])
		case "civilStartTime":
			return seen(&mask, 16) && d.civil(&iv.CivilStartTime)
		case "civilEndTime":
			return seen(&mask, 32) && d.civil(&iv.CivilEndTime)
		}
		return false
	})
}

func (d *pointDecoder) civil(c *CivilDateTime) bool {
	var mask uint32
	return d.s.Object(func(k []byte) bool {
		switch string(k) {
		case "date":
			var m uint32
			return seen(&mask, 1) && d.s.Object(func(k []byte) bool {
				switch string(k) {
				case "year":
					return seen(&m, 1) && d.int(&c.Date.Year)
				case "month":
					return seen(&m, 2) && d.int(&c.Date.Month)
				case "day":
					return seen(&m, 4) && d.int(&c.Date.Day)
				}
				return false
			})
		case "time":
			var m uint32
			t := &c.Time
			return seen(&mask, 2) && d.s.Object(func(k []byte) bool {
				switch string(k) {
				case "hours":
					return seen(&m, 1) && d.int(&t.Hours)
				case "minutes":
					return seen(&m, 2) && d.int(&t.Minutes)
				case "seconds":
					return seen(&m, 4) && d.int(&t.Seconds)
				case "nanos":
					return seen(&m, 8) && d.int(&t.Nanos)
				}
				return false
			})
		}
		return false
	})
}

func (d *pointDecoder) int(dst *int) bool {
	n, ok := d.s.Int()
	*dst = int(n)
	return ok
}

// interner returns one string per distinct short value (platforms,
// recording methods, device names), bounded.
type interner struct {
	m      map[string]string
	recent [32]string // direct-mapped: the same few values come point after point
}

const (
	internMax    = 256 // distinct values kept
	internMaxLen = 64  // longer values are not kept
)

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	r := &in.recent[(len(b)+int(b[len(b)-1]))&31]
	if *r == string(b) {
		return *r
	}
	if s, ok := in.m[string(b)]; ok {
		*r = s
		return s
	}
	s := string(b)
	if len(b) <= internMaxLen && len(in.m) < internMax {
		if in.m == nil {
			in.m = map[string]string{}
		}
		in.m[s] = s
		*r = s
	}
	return s
}
