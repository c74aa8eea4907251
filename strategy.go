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
)

// DefaultStrategy is the built-in SyncStrategy:
//
//   - initial: InitialLookback back from now;
//   - incremental: from each type's cursor minus Overlap to now (no cursor:
//     as initial);
//   - push: the job's window widened by PushMargin on both sides;
//   - backfill: the job's explicit window;
//   - reconciliation: ReconcileLookback back from now.
//
// Zero fields take the Default* values.
type DefaultStrategy struct {
	InitialLookback   time.Duration
	Overlap           time.Duration
	PushMargin        time.Duration
	ReconcileLookback time.Duration
}

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
	switch req.Job.Trigger {
	case TriggerInitial:
		return []FetchPlan{{Types: req.Types, Window: initial}}, nil
	case TriggerReconciliation:
		return []FetchPlan{{Types: req.Types, Window: Window{Start: now.Add(-orDefault(s.ReconcileLookback, DefaultReconcileLookback)), End: now}}}, nil
	case TriggerPush, TriggerBackfill:
		if req.Job.Window == nil {
			return nil, fmt.Errorf("ohx: %s job has no window", req.Job.Trigger)
		}
		w := *req.Job.Window
		if req.Job.Trigger == TriggerPush {
			m := orDefault(s.PushMargin, DefaultPushMargin)
			w = Window{Start: w.Start.Add(-m), End: w.End.Add(m)}
			if w.End.After(now) {
				w.End = now
			}
		}
		return []FetchPlan{{Types: req.Types, Window: w}}, nil
	case TriggerIncremental:
		// Types with the same start are fetched together.
		var plans []FetchPlan
		overlap := orDefault(s.Overlap, DefaultOverlap)
		for _, t := range req.Types {
			w := initial
			if c, ok := req.Cursors[t]; ok {
				w.Start = c.Add(-overlap)
			}
			merged := false
			for i := range plans {
				if plans[i].Window.Start.Equal(w.Start) && plans[i].Window.End.Equal(w.End) {
					plans[i].Types = append(plans[i].Types, t)
					merged = true
					break
				}
			}
			if !merged {
				plans = append(plans, FetchPlan{Types: []DataType{t}, Window: w})
			}
		}
		return plans, nil
	}
	return nil, fmt.Errorf("ohx: no plan for trigger %q", req.Job.Trigger)
}
