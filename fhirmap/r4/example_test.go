package r4_test

import (
	"encoding/json"
	"fmt"

	"github.com/openhealthexchange/ohx/fhirmap/r4"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// Example converts an R5 ECG waveform Observation to R4: the interval
// becomes the period in ms and the MDC coding takes the R4 system URI.
func Example() {
	n := func(s string) *json.Number { v := json.Number(s); return &v }
	s := func(v string) *string { return &v }
	o := &r5.Observation{
		ID:     "ecg-1",
		Status: r5.ObservationFinal,
		Code:   r5.CodeableConcept{Coding: []r5.Coding{{System: s("urn:oid:2.16.840.1.113883.6.24"), Code: s("131329")}}},
		ValueSampledData: &r5.SampledData{Origin: r5.Quantity{Value: n("0"), Unit: s("mV")}, Interval: n("2"), IntervalUnit: "ms",
			Factor: n("0.001"), Dimensions: 1, Data: s("12 40 -3")},
	}
	ro, err := r4.FromObservation(o)
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := r4.Marshal(ro)
	fmt.Println(string(data))
	// Output:
	// {"resourceType":"Observation","id":"ecg-1","status":"final","code":{"coding":[{"system":"urn:iso:std:iso:11073:10101","code":"131329"}]},"valueSampledData":{"origin":{"value":0,"unit":"mV"},"period":2,"factor":0.001,"dimensions":1,"data":"12 40 -3"}}
}
