package provider

import (
	"iter"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Chunks splits w into consecutive windows of at most size, oldest first,
// that add up to w exactly. A provider whose API bounds one query (Oura's
// heart rate: 30 days) reads each chunk in turn, so that at most one
// chunk's worth of samples is held. An empty w yields nothing; a size of
// zero or less yields w whole.
func Chunks(w ohx.Window, size time.Duration) iter.Seq[ohx.Window] {
	return func(yield func(ohx.Window) bool) {
		if w.Empty() {
			return
		}
		if size <= 0 {
			yield(w)
			return
		}
		for start := w.Start; start.Before(w.End); {
			end := start.Add(size)
			if !end.Before(w.End) {
				end = w.End
			}
			if !yield(ohx.Window{Start: start, End: end}) {
				return
			}
			start = end
		}
	}
}
