package aggregate_test

import (
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
)

// An hourly aggregator summarizes heart rate per whole hour of the link's
// time zone and lets the ECG pass through.
func ExampleHourly() {
	h, err := aggregate.NewHourly(aggregate.HourlyConfig{})
	if err != nil {
		panic(err)
	}
	link := ohx.Link{ID: "link-1", TimeZone: "Europe/Berlin"}
	t0 := time.Date(2026, 11, 25, 9, 15, 0, 0, time.UTC) // 10:15 in Berlin
	in := seq(
		hr(t0, 60),
		hr(t0.Add(20*time.Minute), 70),
		ohx.Sample{Type: ohx.ECG, Start: t0.Add(30 * time.Minute), End: t0.Add(30*time.Minute + 30*time.Second), StartOffset: time.Hour, EndOffset: time.Hour},
		hr(t0.Add(50*time.Minute), 80), // 11:05 in Berlin: a new hour
	)
	for s, err := range h.Aggregate(link, in) {
		if err != nil {
			panic(err)
		}
		if s.Aggregate == nil {
			fmt.Printf("%s at %s passes through\n", s.Type, s.LocalStart().Format("15:04"))
			continue
		}
		fmt.Printf("%s %s-%s: n=%d mean=%.0f min=%.0f max=%.0f\n", s.Type,
			s.LocalStart().Format("15:04"), s.LocalEnd().Format("15:04"),
			s.Aggregate.Count, s.Value, s.Aggregate.Min, s.Aggregate.Max)
	}
	// Output:
	// ecg at 10:45 passes through
	// heart-rate 10:00-11:00: n=2 mean=65 min=60 max=70
	// heart-rate 11:00-12:00: n=1 mean=80 min=80 max=80
}

// ForPolicy builds the aggregator an organization's policy asks for; the
// engine's default strategy then aligns every window to its hours.
func ExampleForPolicy() {
	policy := &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{
		ohx.HeartRate: ohx.AggregationHourly,
		ohx.Steps:     ohx.AggregationHourly,
	}}
	agg, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{KeepRaw: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(agg.(*aggregate.Hourly).Types())
	// Output: [heart-rate steps]
}
