package ohx

import (
	"sync"
	"time"
)

// HourGrid is the BucketAligner of the whole hours of a link's time zone
// (UTC when the zone is empty or unknown), the hours the hourly aggregator
// of package aggregate sums up. An hour cut by a zone transition that is not
// a whole hour (a 30-minute daylight saving shift) ends or starts at the
// transition, so hours never overlap and never leave a gap. The zero value
// is ready to use.
//
// The engine aligns its windows to HourGrid when its transformer is a
// StreamTransformer and its aggregator has no buckets of its own: the
// transformer's Provenance then covers whole hours (see StreamTransformer).
type HourGrid struct{}

var _ BucketAligner = HourGrid{}

// zones caches the time zones HourGrid loaded: time.LoadLocation reads the
// zone database on every call.
var zones sync.Map // name → *time.Location

func gridLocation(link Link) *time.Location {
	if link.TimeZone == "" || link.TimeZone == "UTC" {
		return time.UTC
	}
	if v, ok := zones.Load(link.TimeZone); ok {
		return v.(*time.Location)
	}
	loc := link.Location() // UTC when unknown
	zones.Store(link.TimeZone, loc)
	return loc
}

// BucketStart implements BucketAligner: the start of the hour holding t.
func (HourGrid) BucketStart(link Link, t time.Time) time.Time {
	start, _ := hourOf(gridLocation(link), t)
	return start
}

// BucketEnd implements BucketAligner: the end of the hour holding t.
func (HourGrid) BucketEnd(link Link, t time.Time) time.Time {
	_, end := hourOf(gridLocation(link), t)
	return end
}

// hourOf returns the whole hour of loc's wall clock holding t, cut at zone
// transitions.
func hourOf(loc *time.Location, t time.Time) (start, end time.Time) {
	lt := t.In(loc)
	_, off := lt.Zone()
	u := t.Unix()
	into := (u + int64(off)) % 3600
	if into < 0 {
		into += 3600
	}
	start = time.Unix(u-into, 0).UTC()
	end = start.Add(time.Hour)
	if loc == time.UTC {
		return start, end
	}
	zs, ze := lt.ZoneBounds()
	if !zs.IsZero() && start.Before(zs) {
		start = zs.UTC()
	}
	if !ze.IsZero() && !end.Before(ze) {
		end = ze.UTC()
	}
	return start, end
}
