// Package hours defines the whole hours of a time zone's wall clock that
// ohx buckets by: ohx.HourGrid aligns sync windows and Provenance to them,
// and package aggregate sums samples over them. One definition keeps the
// two in agreement.
package hours

import "time"

// Of returns the whole hour of loc's wall clock holding t. An hour cut by a
// zone transition that is not a whole hour (a 30-minute daylight saving
// shift) ends or starts at the transition, so hours never overlap and never
// leave a gap; cut reports that the hour ends at a transition (after which
// the zone's offset differs).
func Of(loc *time.Location, t time.Time) (start, end time.Time, cut bool) {
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
		return start, end, false
	}
	zs, ze := lt.ZoneBounds()
	if !zs.IsZero() && start.Before(zs) {
		start = zs.UTC()
	}
	if !ze.IsZero() && !end.Before(ze) {
		end = ze.UTC()
		cut = true
	}
	return start, end, cut
}
