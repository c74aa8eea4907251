package ohx_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

func TestDefaultStrategyPlan(t *testing.T) {
	hourly, err := aggregate.NewHourly(aggregate.HourlyConfig{})
	require.NoError(t, err)
	now := "2026-11-25T10:20:00Z"
	hr, steps := ohx.HeartRate, ohx.Steps
	type plan struct {
		types      []ohx.DataType
		start, end string
	}
	win := func(start, end string) *ohx.Window {
		return &ohx.Window{Start: mustTime(t, start), End: mustTime(t, end)}
	}
	tests := []struct {
		name     string
		strategy ohx.DefaultStrategy
		link     ohx.Link
		job      ohx.Job
		types    []ohx.DataType
		cursors  map[ohx.DataType]string
		want     []plan
		wantErr  bool
	}{
		{
			name: "initial: 30 days back in 7-day chunks, oldest first", job: ohx.Job{Trigger: ohx.TriggerInitial}, types: []ohx.DataType{hr},
			want: []plan{
				{[]ohx.DataType{hr}, "2026-10-26T10:20:00Z", "2026-11-02T10:20:00Z"},
				{[]ohx.DataType{hr}, "2026-11-02T10:20:00Z", "2026-11-09T10:20:00Z"},
				{[]ohx.DataType{hr}, "2026-11-09T10:20:00Z", "2026-11-16T10:20:00Z"},
				{[]ohx.DataType{hr}, "2026-11-16T10:20:00Z", "2026-11-23T10:20:00Z"},
				{[]ohx.DataType{hr}, "2026-11-23T10:20:00Z", now},
			},
		},
		{
			name: "initial: configured lookback", strategy: ohx.DefaultStrategy{InitialLookback: 48 * time.Hour},
			job: ohx.Job{Trigger: ohx.TriggerInitial}, types: []ohx.DataType{hr, steps},
			want: []plan{{[]ohx.DataType{hr, steps}, "2026-11-23T10:20:00Z", now}},
		},
		{
			name: "initial aligned to the hours of the link's zone", strategy: ohx.DefaultStrategy{InitialLookback: 48 * time.Hour, Align: hourly},
			link: ohx.Link{TimeZone: "Asia/Kolkata"}, job: ohx.Job{Trigger: ohx.TriggerInitial}, types: []ohx.DataType{hr},
			want: []plan{{[]ohx.DataType{hr}, "2026-11-23T09:30:00Z", now}},
		},
		{
			name: "incremental: from the cursor minus the overlap", job: ohx.Job{Trigger: ohx.TriggerIncremental},
			types: []ohx.DataType{hr}, cursors: map[ohx.DataType]string{hr: "2026-11-25T09:00:00Z"},
			want: []plan{{[]ohx.DataType{hr}, "2026-11-25T08:45:00Z", now}},
		},
		{
			name: "incremental: configured overlap; types with equal cursors share a read", strategy: ohx.DefaultStrategy{Overlap: time.Hour},
			job: ohx.Job{Trigger: ohx.TriggerIncremental}, types: []ohx.DataType{hr, steps, ohx.SpO2},
			cursors: map[ohx.DataType]string{hr: "2026-11-25T09:00:00Z", steps: "2026-11-25T09:00:00Z", ohx.SpO2: "2026-11-25T07:00:00Z"},
			want: []plan{
				{[]ohx.DataType{hr, steps}, "2026-11-25T08:00:00Z", now},
				{[]ohx.DataType{ohx.SpO2}, "2026-11-25T06:00:00Z", now},
			},
		},
		{
			name: "incremental, hourly aligned: the late sample's whole hour is read again", strategy: ohx.DefaultStrategy{Align: hourly},
			job: ohx.Job{Trigger: ohx.TriggerIncremental}, types: []ohx.DataType{hr}, cursors: map[ohx.DataType]string{hr: "2026-11-25T09:00:00Z"},
			want: []plan{{[]ohx.DataType{hr}, "2026-11-25T08:00:00Z", now}},
		},
		{
			name: "incremental without cursor behaves as initial", strategy: ohx.DefaultStrategy{InitialLookback: 24 * time.Hour},
			job: ohx.Job{Trigger: ohx.TriggerIncremental}, types: []ohx.DataType{hr, steps}, cursors: map[ohx.DataType]string{hr: "2026-11-25T10:00:00Z"},
			want: []plan{
				{[]ohx.DataType{hr}, "2026-11-25T09:45:00Z", now},
				{[]ohx.DataType{steps}, "2026-11-24T10:20:00Z", now},
			},
		},
		{
			name: "reconnect after a 10-day gap reads only the gap, in chunks", job: ohx.Job{Trigger: ohx.TriggerIncremental},
			types: []ohx.DataType{hr}, cursors: map[ohx.DataType]string{hr: "2026-11-15T08:00:00Z"},
			want: []plan{
				{[]ohx.DataType{hr}, "2026-11-15T07:45:00Z", "2026-11-22T07:45:00Z"},
				{[]ohx.DataType{hr}, "2026-11-22T07:45:00Z", now},
			},
		},
		{
			name: "incremental with a cursor at now reads nothing", strategy: ohx.DefaultStrategy{Overlap: time.Nanosecond},
			job: ohx.Job{Trigger: ohx.TriggerIncremental}, types: []ohx.DataType{hr}, cursors: map[ohx.DataType]string{hr: "2026-11-25T10:30:00Z"},
			want: nil,
		},
		{
			name: "push: the notification's window widened by the margin", job: ohx.Job{Trigger: ohx.TriggerPush, Window: win("2026-11-25T07:10:00Z", "2026-11-25T07:20:00Z")},
			types: []ohx.DataType{hr}, want: []plan{{[]ohx.DataType{hr}, "2026-11-25T07:05:00Z", "2026-11-25T07:25:00Z"}},
		},
		{
			name: "push, hourly aligned: whole hours; the margin may reach into the next hour", strategy: ohx.DefaultStrategy{Align: hourly},
			job:   ohx.Job{Trigger: ohx.TriggerPush, Window: win("2026-11-25T07:10:00Z", "2026-11-25T07:58:00Z")},
			types: []ohx.DataType{hr}, want: []plan{{[]ohx.DataType{hr}, "2026-11-25T07:00:00Z", "2026-11-25T09:00:00Z"}},
		},
		{
			name: "push never reads past now", strategy: ohx.DefaultStrategy{PushMargin: 10 * time.Minute, Align: hourly},
			job:   ohx.Job{Trigger: ohx.TriggerPush, Window: win("2026-11-25T10:00:00Z", "2026-11-25T10:15:00Z")},
			types: []ohx.DataType{hr}, want: []plan{{[]ohx.DataType{hr}, "2026-11-25T09:00:00Z", now}},
		},
		{
			name: "backfill: explicit range in 7-day chunks aligned to Berlin hours", strategy: ohx.DefaultStrategy{Align: hourly},
			link: ohx.Link{TimeZone: "Europe/Berlin"}, job: ohx.Job{Trigger: ohx.TriggerBackfill, Window: win("2026-10-01T12:30:00Z", "2026-10-20T00:10:00Z")},
			types: []ohx.DataType{hr, steps},
			want: []plan{
				{[]ohx.DataType{hr, steps}, "2026-10-01T12:00:00Z", "2026-10-08T12:00:00Z"},
				{[]ohx.DataType{hr, steps}, "2026-10-08T12:00:00Z", "2026-10-15T12:00:00Z"},
				{[]ohx.DataType{hr, steps}, "2026-10-15T12:00:00Z", "2026-10-20T01:00:00Z"},
			},
		},
		{
			name: "backfill: configured chunk", strategy: ohx.DefaultStrategy{Chunk: 24 * time.Hour},
			job:   ohx.Job{Trigger: ohx.TriggerBackfill, Window: win("2026-11-01T00:00:00Z", "2026-11-03T06:00:00Z")},
			types: []ohx.DataType{hr},
			want: []plan{
				{[]ohx.DataType{hr}, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"},
				{[]ohx.DataType{hr}, "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"},
				{[]ohx.DataType{hr}, "2026-11-03T00:00:00Z", "2026-11-03T06:00:00Z"},
			},
		},
		{
			name: "backfill of the future reads nothing", job: ohx.Job{Trigger: ohx.TriggerBackfill, Window: win("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")},
			types: []ohx.DataType{hr}, want: nil,
		},
		{
			name: "reconciliation: the last 3 days by default", job: ohx.Job{Trigger: ohx.TriggerReconciliation}, types: []ohx.DataType{hr},
			cursors: map[ohx.DataType]string{hr: "2026-11-25T10:00:00Z"},
			want:    []plan{{[]ohx.DataType{hr}, "2026-11-22T10:20:00Z", now}},
		},
		{
			name: "reconciliation: the last N days, hourly aligned", strategy: ohx.DefaultStrategy{ReconcileLookback: 24 * time.Hour, Align: hourly},
			job: ohx.Job{Trigger: ohx.TriggerReconciliation}, types: []ohx.DataType{hr},
			want: []plan{{[]ohx.DataType{hr}, "2026-11-24T10:00:00Z", now}},
		},
		{name: "push without window", job: ohx.Job{Trigger: ohx.TriggerPush}, types: []ohx.DataType{hr}, wantErr: true},
		{name: "backfill without window", job: ohx.Job{Trigger: ohx.TriggerBackfill}, types: []ohx.DataType{hr}, wantErr: true},
		{name: "unknown trigger", job: ohx.Job{Trigger: "sometimes"}, types: []ohx.DataType{hr}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cursors := map[ohx.DataType]time.Time{}
			for typ, c := range tc.cursors {
				cursors[typ] = mustTime(t, c)
			}
			plans, err := tc.strategy.Plan(ohx.PlanRequest{Link: tc.link, Job: tc.job, Types: tc.types, Cursors: cursors, Now: mustTime(t, now)})
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			var got []plan
			for _, p := range plans {
				got = append(got, plan{p.Types, p.Window.Start.Format(time.RFC3339), p.Window.End.Format(time.RFC3339)})
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
