package ohx_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/openhealthexchange/ohx"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		policy *ohx.Policy
		ok     bool
	}{
		{"nil policy", nil, true},
		{"zero policy", &ohx.Policy{}, true},
		{"hourly heart rate and steps", &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.HeartRate: ohx.AggregationHourly, ohx.Steps: ohx.AggregationHourly}}, true},
		{"hourly by default", &ohx.Policy{DefaultAggregation: ohx.AggregationHourly}, true},
		{"hourly ECG", &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.ECG: ohx.AggregationHourly}}, false},
		{"hourly SDNN: a mean of SDNN values is no SDNN", &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.HRVSDNN: ohx.AggregationHourly}}, false},
		{"auto by default", &ohx.Policy{DefaultAggregation: ohx.AggregationAuto}, true},
		{"auto ECG is individual", &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.ECG: ohx.AggregationAuto}}, true},
		{"unknown mode", &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.HeartRate: "weekly"}}, false},
		{"unknown default mode", &ohx.Policy{DefaultAggregation: "weekly"}, false},
		{"unknown allowed type", &ohx.Policy{AllowedTypes: []ohx.DataType{"mood"}}, false},
		{"unknown companion", &ohx.Policy{Companions: map[ohx.DataType][]ohx.DataType{ohx.ECG: {"mood"}}}, false},
		{"self companion", &ohx.Policy{Companions: map[ohx.DataType][]ohx.DataType{ohx.ECG: {ohx.ECG}}}, false},
		{"negative lookback", &ohx.Policy{MaxLookback: -time.Hour}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate()
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestPolicyAggregation(t *testing.T) {
	p := &ohx.Policy{
		AllowedTypes:       []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SpO2, ohx.ECG, ohx.BodyWeight},
		DefaultAggregation: ohx.AggregationHourly,
		Aggregation:        map[ohx.DataType]ohx.AggregationMode{ohx.SpO2: ohx.AggregationIndividual},
	}
	tests := []struct {
		typ  ohx.DataType
		want ohx.AggregationMode
	}{
		{ohx.HeartRate, ohx.AggregationHourly},
		{ohx.Steps, ohx.AggregationHourly},
		{ohx.SpO2, ohx.AggregationIndividual},
		{ohx.ECG, ohx.AggregationIndividual},        // cannot be aggregated
		{ohx.BodyWeight, ohx.AggregationIndividual}, // cannot be aggregated
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, p.AggregationOf(tc.typ), tc.typ)
	}
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.Steps}, p.HourlyTypes(), "only allowed, aggregatable, hourly types")
	assert.Equal(t, ohx.AggregationIndividual, (*ohx.Policy)(nil).AggregationOf(ohx.HeartRate))
	assert.Empty(t, (*ohx.Policy)(nil).HourlyTypes())

	assert.Empty(t, p.AutoTypes())

	auto := &ohx.Policy{DefaultAggregation: ohx.AggregationAuto, Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.Steps: ohx.AggregationHourly, ohx.SpO2: ohx.AggregationIndividual}}
	for _, typ := range []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.RespiratoryRate} {
		assert.Equal(t, ohx.AggregationHourly, auto.AggregationOf(typ), "auto: %s is a series", typ)
	}
	for _, typ := range []ohx.DataType{ohx.SpO2, ohx.BodyWeight, ohx.BloodPressure, ohx.BodyTemperature, ohx.ECG, ohx.SleepSession, ohx.DailySpO2, ohx.HRVSDNN, ohx.HRVRMSSD} {
		assert.Equal(t, ohx.AggregationIndividual, auto.AggregationOf(typ), "auto: %s is published individually", typ)
	}
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.RespiratoryRate}, auto.HourlyTypes())
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.RespiratoryRate}, auto.AutoTypes(), "steps are hourly by name: spots included")

	assert.Equal(t, []ohx.DataType{ohx.HeartRate}, (*ohx.Policy)(nil).CompanionsOf(ohx.ECG), "default linked-data rules")
	assert.Empty(t, (&ohx.Policy{Companions: map[ohx.DataType][]ohx.DataType{}}).CompanionsOf(ohx.ECG), "an empty rule set links nothing")

	now := mustTime(t, "2026-11-25T10:00:00Z")
	assert.True(t, (&ohx.Policy{}).Earliest(now).IsZero())
	assert.Equal(t, now.Add(-90*24*time.Hour), (&ohx.Policy{MaxLookback: 90 * 24 * time.Hour}).Earliest(now))
}

func TestPollDue(t *testing.T) {
	ts := func(s string) time.Time { return mustTime(t, s) }
	tests := []struct {
		name      string
		link      ohx.Link
		last, now string
		want      bool
	}{
		{"realtime links are never polled", ohx.Link{Frequency: ohx.SyncRealtime}, "", "2026-11-25T10:00:00Z", false},
		{"empty frequency means realtime", ohx.Link{}, "", "2026-11-25T10:00:00Z", false},
		{"hourly, never polled", ohx.Link{Frequency: ohx.SyncHourly}, "", "2026-11-25T10:00:00Z", true},
		{"hourly, polled this hour", ohx.Link{Frequency: ohx.SyncHourly}, "2026-11-25T10:00:05Z", "2026-11-25T10:59:59Z", false},
		{"hourly, next hour without drift", ohx.Link{Frequency: ohx.SyncHourly}, "2026-11-25T10:00:05Z", "2026-11-25T11:00:00Z", true},
		{"daily, same local day", ohx.Link{Frequency: ohx.SyncDaily, TimeZone: "America/New_York"}, "2026-11-25T05:30:00Z", "2026-11-26T04:59:00Z", false},
		{"daily, after local midnight", ohx.Link{Frequency: ohx.SyncDaily, TimeZone: "America/New_York"}, "2026-11-25T05:30:00Z", "2026-11-26T05:00:00Z", true},
		{"daily, never polled", ohx.Link{Frequency: ohx.SyncDaily}, "", "2026-11-25T10:00:00Z", true},
		{"revoked links are not polled", ohx.Link{Frequency: ohx.SyncHourly, Status: ohx.LinkRevoked}, "", "2026-11-25T10:00:00Z", false},
		{"needs re-consent: not polled", ohx.Link{Frequency: ohx.SyncDaily, Status: ohx.LinkNeedsReconsent}, "", "2026-11-25T10:00:00Z", false},
		{"clock going backwards", ohx.Link{Frequency: ohx.SyncHourly}, "2026-11-25T10:00:00Z", "2026-11-25T09:00:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var last time.Time
			if tc.last != "" {
				last = ts(tc.last)
			}
			assert.Equal(t, tc.want, ohx.PollDue(tc.link, last, ts(tc.now)))
		})
	}
	assert.Equal(t, time.Hour, ohx.SyncHourly.PollInterval())
	assert.Equal(t, 24*time.Hour, ohx.SyncDaily.PollInterval())
	assert.Zero(t, ohx.SyncRealtime.PollInterval())
	assert.True(t, ohx.SyncDaily.Valid())
	assert.False(t, ohx.SyncFrequency("weekly").Valid())
}
