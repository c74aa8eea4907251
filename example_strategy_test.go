package ohx_test

import (
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
)

// A link reconnects after ten days without syncing: the incremental sync
// reads only the gap, in 7-day chunks aligned to the hours the aggregator
// publishes.
func ExampleDefaultStrategy() {
	hourly, _ := aggregate.NewHourly(aggregate.HourlyConfig{})
	s := ohx.DefaultStrategy{Align: hourly}
	now := time.Date(2026, 11, 25, 10, 20, 0, 0, time.UTC)
	plans, err := s.Plan(ohx.PlanRequest{
		Link:    ohx.Link{ID: "link-1", TimeZone: "Asia/Kolkata"},
		Job:     ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerIncremental},
		Types:   []ohx.DataType{ohx.HeartRate},
		Cursors: map[ohx.DataType]time.Time{ohx.HeartRate: now.Add(-10 * 24 * time.Hour).Truncate(time.Hour)},
		Now:     now,
	})
	if err != nil {
		panic(err)
	}
	for _, p := range plans {
		fmt.Println(p.Types, p.Window)
	}
	// Output:
	// [heart-rate] 2026-11-15T09:30:00Z/2026-11-22T09:30:00Z
	// [heart-rate] 2026-11-22T09:30:00Z/2026-11-25T10:20:00Z
}

// A daily link is polled once per civil day of its time zone.
func ExamplePollDue() {
	link := ohx.Link{ID: "link-1", Frequency: ohx.SyncDaily, TimeZone: "America/New_York"}
	last := time.Date(2026, 11, 25, 5, 30, 0, 0, time.UTC) // 00:30 in New York
	fmt.Println(ohx.PollDue(link, last, last.Add(23*time.Hour)))
	fmt.Println(ohx.PollDue(link, last, last.Add(24*time.Hour)))
	// Output:
	// false
	// true
}
