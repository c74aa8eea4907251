package ohx

import "time"

// Valid reports whether f is a known frequency ("" counts as realtime).
func (f SyncFrequency) Valid() bool {
	switch f {
	case "", SyncRealtime, SyncHourly, SyncDaily:
		return true
	}
	return false
}

// PollInterval returns the nominal time between polled incremental syncs of
// a link with frequency f: an hour, a day, or zero for realtime links, which
// are driven by webhooks (plus the nightly reconciliation) and never polled.
func (f SyncFrequency) PollInterval() time.Duration {
	switch f {
	case SyncHourly:
		return time.Hour
	case SyncDaily:
		return 24 * time.Hour
	}
	return 0
}

// PollDue reports whether link l is due for a polled incremental sync at now,
// given when its last polled sync was enqueued (zero: never). Only active
// hourly and daily links are polled. An hourly link is due once per hour of
// UTC (so a link polled at 10:00:05 is due again at 11:00:00, without drift);
// a daily link once per civil day of its time zone, from local midnight on.
// A scheduler calls it for each link on every tick and enqueues those that
// are due.
func PollDue(l Link, lastPolled, now time.Time) bool {
	if (l.Status != LinkActive && l.Status != "") || l.Frequency.PollInterval() == 0 {
		return false
	}
	if lastPolled.IsZero() {
		return true
	}
	if !now.After(lastPolled) {
		return false
	}
	switch l.Frequency {
	case SyncHourly:
		return now.Truncate(time.Hour).After(lastPolled.Truncate(time.Hour))
	default: // SyncDaily
		loc := l.Location()
		ly, lm, ld := lastPolled.In(loc).Date()
		ny, nm, nd := now.In(loc).Date()
		return ny != ly || nm != lm || nd != ld
	}
}
