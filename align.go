package ohx

import (
	"slices"
	"time"
)

// BucketAligner is implemented by aggregators that compute their output per
// time bucket (an hour of the link's time zone). A window that cuts a bucket
// would recompute it from part of its samples and overwrite the whole one, so
// strategies widen windows to whole buckets and the engine never lets a cursor
// pass the start of a bucket that is still open.
type BucketAligner interface {
	// BucketStart returns the start of the link's bucket holding t.
	BucketStart(link Link, t time.Time) time.Time
	// BucketEnd returns the end of the link's bucket holding t, which is the
	// start of the next bucket.
	BucketEnd(link Link, t time.Time) time.Time
}

// AlignWindow widens w to whole buckets of a for link: Start moves back to the
// start of its bucket, End forward to the end of its bucket (unless End is a
// bucket boundary already). A nil aligner returns w unchanged.
func AlignWindow(a BucketAligner, link Link, w Window) Window {
	if a == nil || w.Empty() {
		return w
	}
	return Window{Start: a.BucketStart(link, w.Start), End: ceilBucket(a, link, w.End)}
}

// ceilBucket returns t when it is a bucket boundary, else the end of its
// bucket.
func ceilBucket(a BucketAligner, link Link, t time.Time) time.Time {
	if a == nil || a.BucketStart(link, t).Equal(t) {
		return t
	}
	return a.BucketEnd(link, t)
}

// alignPlans widens every plan's window to whole buckets of a, whatever
// strategy made it, so no bucket is ever recomputed from part of its samples.
// Widening never reaches past now unless the plan already did. A plan that
// widening made overlap the plan before it, of the same types, starts where
// that one ends, so no bucket is read twice (and no resource queued twice).
func alignPlans(plans []FetchPlan, a BucketAligner, link Link, now time.Time) []FetchPlan {
	if a == nil {
		return plans
	}
	out := plans[:0]
	for _, p := range plans {
		w := AlignWindow(a, link, p.Window)
		if w.End.After(now) && !p.Window.End.After(now) {
			w.End = now
		}
		if n := len(out); n > 0 && slices.Equal(out[n-1].Types, p.Types) && w.Start.Before(out[n-1].Window.End) && !w.Start.Before(out[n-1].Window.Start) {
			w.Start = out[n-1].Window.End
		}
		p.Window = w
		if !w.Empty() {
			out = append(out, p)
		}
	}
	return out
}
