package ohx

import (
	"sync"
	"time"

	"github.com/openhealthexchange/ohx/internal/hours"
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
	start, _, _ := hours.Of(gridLocation(link), t)
	return start
}

// BucketEnd implements BucketAligner: the end of the hour holding t.
func (HourGrid) BucketEnd(link Link, t time.Time) time.Time {
	_, end, _ := hours.Of(gridLocation(link), t)
	return end
}
