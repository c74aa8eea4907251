package ohx

import (
	"fmt"
	"time"
)

// Defaults of DefaultStrategy.
const (
	DefaultInitialLookback   = 30 * 24 * time.Hour
	DefaultOverlap           = 15 * time.Minute
	DefaultPushMargin        = 5 * time.Minute
	DefaultReconcileLookback = 3 * 24 * time.Hour
	DefaultChunk             = 7 * 24 * time.Hour
)

// DefaultStrategy is the built-in SyncStrategy:
//
//   - initial: InitialLookback back from now;
//   - incremental: from each type's cursor minus Overlap to now; a type
//     without cursor behaves as initial. A cursor left behind by a
//     disconnection reads exactly the gap since it (no fresh initial sync);
//   - push: the job's window widened by PushMargin on both sides, never past
//     now;
//   - backfill: the job's explicit window;
//   - reconciliation: ReconcileLookback back from now, to catch lost webhooks.
//
// Every window longer than Chunk is split into consecutive chunks of Chunk,
// oldest first, so a long read is made in provider-friendly pieces and the
// cursors move after each. When Align is set (the engine sets it, when
// nil, to its grid: the hourly aggregator's hours, or ohx.HourGrid with a
// StreamTransformer), every window and chunk boundary is widened to whole
// buckets, so a late sample re-reads and recomputes its whole hour, and the
// hour's Provenance is rebuilt from all of the hour.
//
// Zero fields take the Default* values. The organization's maximum lookback
// (Policy.MaxLookback) is applied by the engine after planning.
type DefaultStrategy struct {
	// InitialLookback is how far back an initial sync reads.
	InitialLookback time.Duration
	// Overlap is how far before a cursor an incremental sync starts, for
	// samples the provider publishes late.
	Overlap time.Duration
	// PushMargin widens a notification's window on both sides.
	PushMargin time.Duration
	// ReconcileLookback is how far back the nightly reconciliation reads.
	ReconcileLookback time.Duration
	// Chunk is the longest window of one read.
	Chunk time.Duration
	// Align, when set, aligns windows and chunks to its buckets.
	Align BucketAligner
}

var _ SyncStrategy = DefaultStrategy{}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Plan implements SyncStrategy.
func (s DefaultStrategy) Plan(req PlanRequest) ([]FetchPlan, error) {
	now := req.Now.UTC()
	initial := Window{Start: now.Add(-orDefault(s.InitialLookback, DefaultInitialLookback)), End: now}
	var plans []FetchPlan
	switch req.Job.Trigger {
	case TriggerInitial:
		plans = []FetchPlan{{Types: req.Types, Window: initial}}
	case TriggerReconciliation:
		plans = []FetchPlan{{Types: req.Types, Window: Window{Start: now.Add(-orDefault(s.ReconcileLookback, DefaultReconcileLookback)), End: now}}}
	case TriggerPush, TriggerBackfill:
		if req.Job.Window == nil {
			return nil, fmt.Errorf("ohx: %s job has no window", req.Job.Trigger)
		}
		w := Window{Start: req.Job.Window.Start.UTC(), End: req.Job.Window.End.UTC()}
		if req.Job.Trigger == TriggerPush {
			m := orDefault(s.PushMargin, DefaultPushMargin)
			w = Window{Start: w.Start.Add(-m), End: w.End.Add(m)}
		}
		plans = []FetchPlan{{Types: req.Types, Window: w}}
	case TriggerIncremental:
		// Types with the same window are fetched together.
		overlap := orDefault(s.Overlap, DefaultOverlap)
		for _, t := range req.Types {
			w := initial
			if c, ok := req.Cursors[t]; ok {
				w.Start = c.UTC().Add(-overlap)
			}
			w = s.align(req.Link, w, now)
			merged := false
			for i := range plans {
				if plans[i].Window == w {
					plans[i].Types = append(plans[i].Types, t)
					merged = true
					break
				}
			}
			if !merged {
				plans = append(plans, FetchPlan{Types: []DataType{t}, Window: w})
			}
		}
	default:
		return nil, fmt.Errorf("ohx: no plan for trigger %q", req.Job.Trigger)
	}
	var out []FetchPlan
	for _, p := range plans {
		w := s.align(req.Link, p.Window, now)
		if w.Empty() || len(p.Types) == 0 {
			continue
		}
		out = append(out, s.chunks(req.Link, FetchPlan{Types: p.Types, Window: w})...)
	}
	return out, nil
}

// align widens w to whole buckets and keeps its end at or before now (a
// backfill of the future reads nothing of it).
func (s DefaultStrategy) align(link Link, w Window, now time.Time) Window {
	if w.End.After(now) {
		w.End = now
	}
	w = AlignWindow(s.Align, link, w)
	if w.End.After(now) {
		w.End = now
	}
	return w
}

// chunks splits p into windows of at most Chunk (plus the widening to a
// bucket boundary), oldest first.
func (s DefaultStrategy) chunks(link Link, p FetchPlan) []FetchPlan {
	size := orDefault(s.Chunk, DefaultChunk)
	var out []FetchPlan
	for start := p.Window.Start; start.Before(p.Window.End); {
		end := ceilBucket(s.Align, link, start.Add(size))
		if !end.Before(p.Window.End) {
			end = p.Window.End
		}
		out = append(out, FetchPlan{Types: p.Types, Window: Window{Start: start, End: end}})
		start = end
	}
	return out
}
