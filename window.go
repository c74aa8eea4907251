package ohx

import (
	"fmt"
	"time"
)

// Window is a half-open time range [Start, End) in UTC.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t lies in [Start, End).
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// Empty reports whether the window holds no instant.
func (w Window) Empty() bool { return !w.End.After(w.Start) }

// Duration returns End − Start.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Union returns the smallest window holding both w and o. An empty window is
// the identity.
func (w Window) Union(o Window) Window {
	switch {
	case w.Empty():
		return o
	case o.Empty():
		return w
	}
	u := w
	if o.Start.Before(u.Start) {
		u.Start = o.Start
	}
	if o.End.After(u.End) {
		u.End = o.End
	}
	return u
}

// Validate reports an error for a window with a zero bound or End ≤ Start.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return fmt.Errorf("ohx: window needs a start and an end")
	}
	if !w.End.After(w.Start) {
		return fmt.Errorf("ohx: window end must be after its start")
	}
	return nil
}

// String renders the window in RFC 3339.
func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}
