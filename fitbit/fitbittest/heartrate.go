package fitbittest

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// heartRateSize is about the length of one heart-rate point's JSON, to
// size a page's buffer.
const heartRateSize = 380

// heartRateWriter writes heart-rate points from their instants alone,
// byte for byte as appendPoint writes the points heartRate makes: the
// bytes before the rate are a template cut from such a point, and the
// user's civil time comes from a calendar that remembers the zone period
// and the day rather than asking time.Time.In for every second.
type heartRateWriter struct {
	head []byte // the point up to the rate's digits
	seed uint64 // hash's FNV-1a state after the user id and the salt
	cal  calendar
	// minute and resting cache restingBPM.
	minute  int
	resting float64
}

func newHeartRateWriter(u *user, reconcile bool) *heartRateWriter {
	p := heartRate(nil, u, time.Unix(0, 0))
	if reconcile {
		p.DataPointName, p.Name, p.DataSource = p.Name, "", nil
	}
	b, _ := appendPoint(nil, &p)
	const rate = `"beatsPerMinute":"`
	return &heartRateWriter{
		head:   b[:bytes.Index(b, []byte(rate))+len(rate)],
		seed:   fnvString(fnvString(fnvOffset, u.HealthUserID), "hr"),
		cal:    calendar{loc: u.loc},
		minute: -1,
	}
}

// append appends the point at t; ok is false for an instant it does not
// write (a fraction of a second, a year outside 1 to 9999), which the
// caller then writes from the point.
func (w *heartRateWriter) append(b []byte, t time.Time) (_ []byte, ok bool) {
	sec := t.Unix()
	if t.Nanosecond() != 0 || sec < minSec || sec >= maxSec {
		return b, false
	}
	c := &w.cal
	off, local := c.at(sec)
	if m := int(local / 60); m != w.minute {
		w.minute, w.resting = m, restingBPM(m)
	}
	b = append(b, w.head...)
	b = strconv.AppendInt(b, int64(bpm(w.resting, fnvTime(w.seed, t))), 10)
	b = append(b, `","sampleTime":{"physicalTime":"`...)
	b = appendDate(b, c.udate)
	utc := int(sec - c.uday*day)
	b = append(b, 'T')
	b = append2(b, utc/3600)
	b = append(b, ':')
	b = append2(b, utc/60%60)
	b = append(b, ':')
	b = append2(b, utc%60)
	b = append(b, `Z","utcOffset":"`...)
	b = strconv.AppendInt(b, off, 10)
	b = append(b, `s","civilTime":{"date":{"year":`...)
	b = strconv.AppendInt(b, int64(c.ldate[0]), 10)
	b = append(b, `,"month":`...)
	b = strconv.AppendInt(b, int64(c.ldate[1]), 10)
	b = append(b, `,"day":`...)
	b = strconv.AppendInt(b, int64(c.ldate[2]), 10)
	b = append(b, '}')
	if local != 0 {
		// TimeOfDay's members are omitempty.
		b = append(b, `,"time":{`...)
		sep := false
		for _, f := range [3]struct {
			key string
			v   int64
		}{{`"hours":`, local / 3600}, {`"minutes":`, local / 60 % 60}, {`"seconds":`, local % 60}} {
			if f.v == 0 {
				continue
			}
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = append(b, f.key...)
			b = strconv.AppendInt(b, f.v, 10)
		}
		b = append(b, '}')
	}
	return append(b, "}}}}"...), true
}

const day = 24 * 60 * 60

// The instants a calendar takes: years 1 to 9999 in UTC and, with a day to
// spare for the zone, in civil time.
var (
	minSec = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	maxSec = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix()
)

// calendar turns Unix seconds into the civil time of a zone, remembering
// the zone period (in which the offset is fixed) and the last local and
// UTC days.
type calendar struct {
	loc    *time.Location
	lo, hi int64 // the zone period [lo, hi) in Unix seconds
	off    int64 // its offset, seconds east of UTC
	set    bool
	// lday and uday are the local and UTC days (days since 1970-01-01) of
	// the dates ldate and udate (year, month, day).
	lday, uday   int64
	ldate, udate [3]int
	dates        bool
}

// at returns the offset at sec and the seconds since local midnight, and
// sets c.ldate and c.udate to the local and UTC dates.
func (c *calendar) at(sec int64) (off, local int64) {
	if !c.set || sec < c.lo || sec >= c.hi {
		t := time.Unix(sec, 0).In(c.loc)
		_, o := t.Zone()
		start, end := t.ZoneBounds()
		c.off, c.lo, c.hi, c.set = int64(o), math.MinInt64, math.MaxInt64, true
		if !start.IsZero() {
			c.lo = start.Unix()
		}
		if !end.IsZero() {
			c.hi = end.Unix()
		}
	}
	l := sec + c.off
	lday, uday := floorDiv(l, day), floorDiv(sec, day)
	if !c.dates || lday != c.lday {
		c.lday, c.ldate = lday, dateOf(lday)
	}
	if !c.dates || uday != c.uday {
		c.uday, c.udate = uday, dateOf(uday)
	}
	c.dates = true
	return c.off, l - lday*day
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func dateOf(d int64) [3]int {
	y, m, dd := time.Unix(d*day, 0).UTC().Date()
	return [3]int{y, int(m), dd}
}

// appendDate appends YYYY-MM-DD.
func appendDate(b []byte, d [3]int) []byte {
	y := d[0]
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append2(b, d[1])
	b = append(b, '-')
	return append2(b, d[2])
}

// append2 appends v (0 to 99) in two digits.
func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
