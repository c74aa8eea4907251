// Package wire holds the JSON shapes of the Oura API v2 (OpenAPI 1.37 and
// real responses), shared by the oura provider and its fake. Decoding is
// tolerant: most fields are nullable, enums are strings, timestamps may come
// with or without a zone.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Time is an Oura timestamp. It decodes RFC 3339 (with or without
// fractional seconds, "Z" or an offset), a zone-less date-time (seen on
// webhook expiration_time; read as UTC) and a bare date (midnight UTC), and
// keeps the offset Oura gave. null decodes to the zero Time.
type Time struct{ time.Time }

// Layouts Oura uses.
const (
	// LayoutOffset is how Oura writes timestamps: "2024-11-11T04:00:00+01:00".
	LayoutOffset = "2006-01-02T15:04:05-07:00"
	// LayoutMillis is how Oura writes series timestamps:
	// "2024-10-10T01:01:59.000+02:00".
	LayoutMillis = "2006-01-02T15:04:05.000-07:00"
)

var zoneless = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02"}

// ParseTime parses s as Time's UnmarshalJSON does.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range zoneless {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("wire: %q is not a timestamp", s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("wire: timestamp is not a string")
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON writes the time as Oura does, with its own offset.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format(LayoutOffset))
}

// Offset returns the UTC offset the timestamp was written with.
func (t Time) Offset() time.Duration {
	_, off := t.Zone()
	return time.Duration(off) * time.Second
}

// Date is a civil date, "2024-11-11".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the civil date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Valid reports whether d is a real date.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return false
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Day() == d.Day
}

// In returns local midnight of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// AddDays returns d plus n days.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int { return d.In(time.UTC).Compare(o.In(time.UTC)) }

// String returns "YYYY-MM-DD".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// UnmarshalJSON implements json.Unmarshaler; null and "" give the zero
// (invalid) Date.
func (d *Date) UnmarshalJSON(b []byte) error {
	*d = Date{}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("wire: day is not a string")
	}
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("wire: day %q is not a date", s)
	}
	*d = DateOf(t)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Date) MarshalJSON() ([]byte, error) {
	if !d.Valid() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// Page is a collection response: {"data": [...], "next_token": "…"|null}.
type Page[T any] struct {
	Data      []T     `json:"data"`
	NextToken *string `json:"next_token"`
}

// Next returns the next page token, "" on the last page.
func (p *Page[T]) Next() string {
	if p.NextToken == nil {
		return ""
	}
	return *p.NextToken
}

// Series is a regularly sampled series: items every Interval seconds from
// Timestamp; null items are gaps.
type Series struct {
	Interval  float64    `json:"interval"`
	Items     []*float64 `json:"items"`
	Timestamp Time       `json:"timestamp"`
}

// HeartRate is one row of the heartrate collection.
type HeartRate struct {
	BPM       float64 `json:"bpm"`
	Source    string  `json:"source"`
	Timestamp Time    `json:"timestamp"`
	// TimestampUnix is in milliseconds (spec 1.29 and later; absent in 2024
	// data and the sandbox).
	TimestampUnix *int64 `json:"timestamp_unix,omitempty"`
}

// SleepReadiness is the readiness block of a sleep period.
type SleepReadiness struct {
	Contributors              map[string]*float64 `json:"contributors,omitempty"`
	Score                     *float64            `json:"score"`
	TemperatureDeviation      *float64            `json:"temperature_deviation"`
	TemperatureTrendDeviation *float64            `json:"temperature_trend_deviation"`
}

// Sleep is one sleep period. Durations are seconds.
type Sleep struct {
	ID                    string          `json:"id"`
	AverageBreath         *float64        `json:"average_breath"`
	AverageHeartRate      *float64        `json:"average_heart_rate"`
	AverageHRV            *float64        `json:"average_hrv"`
	AwakeTime             *float64        `json:"awake_time"`
	BedtimeEnd            Time            `json:"bedtime_end"`
	BedtimeStart          Time            `json:"bedtime_start"`
	Day                   Date            `json:"day"`
	DeepSleepDuration     *float64        `json:"deep_sleep_duration"`
	Efficiency            *float64        `json:"efficiency"`
	HeartRate             *Series         `json:"heart_rate"`
	HRV                   *Series         `json:"hrv"`
	Latency               *float64        `json:"latency"`
	LightSleepDuration    *float64        `json:"light_sleep_duration"`
	LowBatteryAlert       bool            `json:"low_battery_alert"`
	LowestHeartRate       *float64        `json:"lowest_heart_rate"`
	Movement30Sec         *string         `json:"movement_30_sec"`
	Period                int             `json:"period"`
	Readiness             *SleepReadiness `json:"readiness"`
	ReadinessScoreDelta   *float64        `json:"readiness_score_delta"`
	RemSleepDuration      *float64        `json:"rem_sleep_duration"`
	RestlessPeriods       *float64        `json:"restless_periods"`
	SleepPhase5Min        *string         `json:"sleep_phase_5_min"`
	SleepScoreDelta       *float64        `json:"sleep_score_delta"`
	SleepAlgorithmVersion *string         `json:"sleep_algorithm_version"`
	TimeInBed             *float64        `json:"time_in_bed"`
	TotalSleepDuration    *float64        `json:"total_sleep_duration"`
	Type                  string          `json:"type"`
	RingID                *string         `json:"ring_id,omitempty"`
}

// DailyActivity is one day of activity (04:00 to 04:00 local).
type DailyActivity struct {
	ID                        string              `json:"id"`
	Class5Min                 *string             `json:"class_5_min"`
	Score                     *float64            `json:"score"`
	ActiveCalories            *float64            `json:"active_calories"`
	AverageMETMinutes         *float64            `json:"average_met_minutes"`
	Contributors              map[string]*float64 `json:"contributors,omitempty"`
	EquivalentWalkingDistance *float64            `json:"equivalent_walking_distance"`
	HighActivityMETMinutes    *float64            `json:"high_activity_met_minutes"`
	HighActivityTime          *float64            `json:"high_activity_time"`
	InactivityAlerts          *float64            `json:"inactivity_alerts"`
	LowActivityMETMinutes     *float64            `json:"low_activity_met_minutes"`
	LowActivityTime           *float64            `json:"low_activity_time"`
	MediumActivityMETMinutes  *float64            `json:"medium_activity_met_minutes"`
	MediumActivityTime        *float64            `json:"medium_activity_time"`
	MET                       *Series             `json:"met"`
	MetersToTarget            *float64            `json:"meters_to_target"`
	NonWearTime               *float64            `json:"non_wear_time"`
	RestingTime               *float64            `json:"resting_time"`
	SedentaryMETMinutes       *float64            `json:"sedentary_met_minutes"`
	SedentaryTime             *float64            `json:"sedentary_time"`
	Steps                     *float64            `json:"steps"`
	TargetCalories            *float64            `json:"target_calories"`
	TargetMeters              *float64            `json:"target_meters"`
	TotalCalories             *float64            `json:"total_calories"`
	Day                       Date                `json:"day"`
	Timestamp                 Time                `json:"timestamp"`
}

// DailyReadiness is one day's readiness; temperatures are °C relative to
// the user's baseline.
type DailyReadiness struct {
	ID                        string              `json:"id"`
	Contributors              map[string]*float64 `json:"contributors,omitempty"`
	Day                       Date                `json:"day"`
	Score                     *float64            `json:"score"`
	TemperatureDeviation      *float64            `json:"temperature_deviation"`
	TemperatureTrendDeviation *float64            `json:"temperature_trend_deviation"`
	Timestamp                 Time                `json:"timestamp"`
}

// SpO2Percentage is the SpO2 block of daily_spo2.
type SpO2Percentage struct {
	Average *float64 `json:"average"`
}

// DailySpO2 is one night's blood oxygen.
type DailySpO2 struct {
	ID                        string          `json:"id"`
	Day                       Date            `json:"day"`
	SpO2Percentage            *SpO2Percentage `json:"spo2_percentage"`
	BreathingDisturbanceIndex *float64        `json:"breathing_disturbance_index"`
}

// VO2Max is one VO2max estimate (ml/kg/min).
type VO2Max struct {
	ID        string   `json:"id"`
	Day       Date     `json:"day"`
	Timestamp Time     `json:"timestamp"`
	VO2Max    *float64 `json:"vo2_max"`
}

// DailySleep is one day's sleep score.
type DailySleep struct {
	ID           string              `json:"id"`
	Contributors map[string]*float64 `json:"contributors,omitempty"`
	Day          Date                `json:"day"`
	Score        *float64            `json:"score"`
	Timestamp    Time                `json:"timestamp"`
}

// DailyStress is one day's stress summary; times are seconds.
type DailyStress struct {
	ID           string   `json:"id"`
	Day          Date     `json:"day"`
	StressHigh   *float64 `json:"stress_high"`
	RecoveryHigh *float64 `json:"recovery_high"`
	DaySummary   *string  `json:"day_summary"`
}

// DailyResilience is one day's resilience level.
type DailyResilience struct {
	ID           string              `json:"id"`
	Day          Date                `json:"day"`
	Contributors map[string]*float64 `json:"contributors,omitempty"`
	Level        string              `json:"level"`
}

// CardiovascularAge is one day's cardiovascular age (2024 responses have no
// id).
type CardiovascularAge struct {
	ID                string   `json:"id,omitempty"`
	Day               Date     `json:"day"`
	VascularAge       *float64 `json:"vascular_age"`
	PulseWaveVelocity *float64 `json:"pulse_wave_velocity,omitempty"`
}

// Workout is one workout; calories kcal, distance m.
type Workout struct {
	ID            string   `json:"id"`
	Activity      string   `json:"activity"`
	Calories      *float64 `json:"calories"`
	Day           Date     `json:"day"`
	Distance      *float64 `json:"distance"`
	EndDatetime   Time     `json:"end_datetime"`
	Intensity     string   `json:"intensity"`
	Label         *string  `json:"label"`
	Source        string   `json:"source"`
	StartDatetime Time     `json:"start_datetime"`
}

// RingConfiguration is one ring of the user.
type RingConfiguration struct {
	ID              string   `json:"id"`
	Color           *string  `json:"color"`
	Design          *string  `json:"design"`
	FirmwareVersion *string  `json:"firmware_version"`
	HardwareType    *string  `json:"hardware_type"`
	SetUpAt         Time     `json:"set_up_at"`
	Size            *float64 `json:"size"`
}

// PersonalInfo is the user's profile; only id is readable without the
// personal and email scopes.
type PersonalInfo struct {
	ID            string   `json:"id"`
	Age           *float64 `json:"age,omitempty"`
	Weight        *float64 `json:"weight,omitempty"`
	Height        *float64 `json:"height,omitempty"`
	BiologicalSex *string  `json:"biological_sex,omitempty"`
	Email         *string  `json:"email,omitempty"`
}

// Subscription is a webhook subscription of the app.
type Subscription struct {
	ID             string `json:"id"`
	CallbackURL    string `json:"callback_url"`
	EventType      string `json:"event_type"`
	DataType       string `json:"data_type"`
	ExpirationTime Time   `json:"expiration_time"`
}

// CreateSubscription is the body of POST /v2/webhook/subscription.
type CreateSubscription struct {
	CallbackURL       string `json:"callback_url"`
	VerificationToken string `json:"verification_token"`
	EventType         string `json:"event_type"`
	DataType          string `json:"data_type"`
}

// Event is a webhook delivery's body.
type Event struct {
	EventType string `json:"event_type"`
	DataType  string `json:"data_type"`
	ObjectID  string `json:"object_id"`
	EventTime Time   `json:"event_time"`
	UserID    string `json:"user_id"`
}

// ValidationError is one entry of a 422 body's detail list.
type ValidationError struct {
	Type string          `json:"type"`
	Loc  []any           `json:"loc"`
	Msg  string          `json:"msg"`
	In   json.RawMessage `json:"input,omitempty"`
	Ctx  json.RawMessage `json:"ctx,omitempty"`
}

// ErrorBody is an error answer: {"detail": "…"} or, for 422,
// {"detail": [ValidationError…]}; old docs describe RFC 7807
// {"status", "title", "detail"}.
type ErrorBody struct {
	Detail json.RawMessage `json:"detail"`
	Title  string          `json:"title,omitempty"`
	Status int             `json:"status,omitempty"`
}

// DetailText returns the detail when it is a string, else the first
// validation message, else the title.
func (e *ErrorBody) DetailText() string {
	var s string
	if json.Unmarshal(e.Detail, &s) == nil {
		return s
	}
	var list []ValidationError
	if json.Unmarshal(e.Detail, &list) == nil && len(list) > 0 {
		return list[0].Msg
	}
	return e.Title
}
