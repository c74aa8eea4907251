package oura_test

import (
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura"
)

// The scopes to ask for: those of the types' collections and the ring
// configuration, with the SpO2 scope under both its names.
func ExampleScopesFor() {
	fmt.Println(oura.ScopesFor([]ohx.DataType{ohx.HeartRate, ohx.SleepSession, ohx.DailySpO2}))
	// Output: [daily heartrate ring_configuration spo2 spo2Daily]
}

// An event names a document; the notification re-reads the types its data
// type feeds over the days before the event.
func ExampleParseEvent() {
	body := []byte(`{"event_type":"update","data_type":"daily_readiness","object_id":"93b2a8ec-ccdb-49bf-84f5-d06a77873f25","event_time":"2024-11-12T07:00:00+00:00","user_id":"8b97e1b67-144-5e9a8c067-e62331-968-b"}`)
	n, ok, err := oura.ParseEvent(body, time.Date(2024, 11, 12, 7, 0, 30, 0, time.UTC), 24*time.Hour)
	fmt.Println(ok, err)
	fmt.Println(n.Kind, n.ExternalUserID, n.DataTypes)
	fmt.Println(n.Window)
	// Output:
	// true <nil>
	// data 8b97e1b67-144-5e9a8c067-e62331-968-b [skin-temperature-deviation]
	// 2024-11-11T07:00:00Z/2024-11-12T07:01:00Z
}
