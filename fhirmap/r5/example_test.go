package r5_test

import (
	"encoding/json"
	"fmt"

	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// A custom publisher adjusts what ohx emitted: it decodes the Observation,
// tags it and writes it again.
func ExampleObservation() {
	emitted := []byte(`{"resourceType":"Observation","id":"3f1c0a52-5d4e-5b7a-9c1e-2a7b8c9d0e1f","status":"final",` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},` +
		`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-20T07:00:00+01:00",` +
		`"valueQuantity":{"value":72.50,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`)
	var o r5.Observation
	if err := json.Unmarshal(emitted, &o); err != nil {
		fmt.Println(err)
		return
	}
	system, code := "https://ehr.example/tags", "wearable"
	o.Meta = &r5.Meta{Tag: []r5.Coding{{System: &system, Code: &code}}}
	if err := o.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	out, err := json.Marshal(o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"resourceType":"Observation","id":"3f1c0a52-5d4e-5b7a-9c1e-2a7b8c9d0e1f","meta":{"tag":[{"system":"https://ehr.example/tags","code":"wearable"}]},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-20T07:00:00+01:00","valueQuantity":{"value":72.50,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}
}
