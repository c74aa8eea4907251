package ohx

import (
	"slices"
	"time"
)

// Report says what one sync did. It holds counts, never health values.
type Report struct {
	// LinkID, Provider and Trigger identify the sync.
	LinkID   string
	Provider string
	Trigger  Trigger
	// Started is when the sync began; Duration how long it ran.
	Started  time.Time
	Duration time.Duration
	// Types holds per data type counts.
	Types map[DataType]*TypeReport
	// Devices is the number of devices listed by a device sync.
	Devices int
	// Written counts every resource acknowledged (including devices and
	// provenance); Rejected lists resources refused for good.
	Written  int
	Rejected []Rejection
	// Skipped lists what the sync left out and why.
	Skipped []Skip
	// Err is the error the sync ended with, if any.
	Err error
}

// TypeReport holds the counts of one data type.
type TypeReport struct {
	// SamplesRead counts samples read from the provider.
	SamplesRead int
	// ResourcesWritten counts resources of this type acknowledged.
	ResourcesWritten int
	// Skipped counts samples left out.
	Skipped int
	// Retracted counts resources of this type marked entered-in-error by a
	// deletion job because the provider no longer has their record.
	Retracted int
	// Cursor is the cursor after the sync, when it moved.
	Cursor time.Time
}

// Skip names a data type (or its samples) left out of a sync and why.
type Skip struct {
	Type   DataType
	Reason string
}

func (r *Report) typeReport(t DataType) *TypeReport {
	if r.Types == nil {
		r.Types = map[DataType]*TypeReport{}
	}
	tr := r.Types[t]
	if tr == nil {
		tr = &TypeReport{}
		r.Types[t] = tr
	}
	return tr
}

// skip counts a skipped sample and records the reason once per type.
func (r *Report) skip(t DataType, reason string) {
	r.typeReport(t).Skipped++
	if !slices.Contains(r.Skipped, Skip{Type: t, Reason: reason}) {
		r.Skipped = append(r.Skipped, Skip{Type: t, Reason: reason})
	}
}

func (r *Report) count(rs []Resource, res PublishResult) {
	rejected := make(map[string]bool, len(res.Rejected))
	for _, rj := range res.Rejected {
		rejected[rj.Key] = true
	}
	r.Rejected = append(r.Rejected, res.Rejected...)
	for i := range rs {
		if len(rejected) > 0 && rejected[rs[i].Key()] {
			continue
		}
		r.Written++
		if rs[i].DataType != "" {
			r.typeReport(rs[i].DataType).ResourcesWritten++
		}
	}
}

// SamplesRead returns the total of samples read over all types.
func (r *Report) SamplesRead() int {
	n := 0
	for _, t := range r.Types {
		n += t.SamplesRead
	}
	return n
}
