package fhirmap_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
)

// Example maps one heart-rate sample to an R5 Observation.
func Example() {
	tr, err := fhirmap.New(fhirmap.Config{NoProvenance: true})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	link := ohx.Link{ID: "link-1", Provider: "withings", ExternalUserID: "12345678", Patient: "Patient/123"}
	rs, err := tr.Transform(context.Background(), ohx.Batch{Link: link, Samples: []ohx.Sample{{
		Type: ohx.HeartRate, Start: at, End: at, StartOffset: time.Hour, EndOffset: time.Hour,
		Value: 64, Unit: "/min", Provider: "withings", DeviceID: "abc",
	}}})
	if err != nil {
		panic(err)
	}
	fmt.Println(rs[0].Key())
	fmt.Println(rs[0].Identifier)
	fmt.Println(string(rs[0].JSON))
	// Output:
	// Observation/6706de44-bf35-5e2e-8498-a426b41f8e0e
	// urn:ohx:withings:observation|6706de44-bf35-5e2e-8498-a426b41f8e0e
	// {"resourceType":"Observation","id":"6706de44-bf35-5e2e-8498-a426b41f8e0e","meta":{"source":"urn:ohx:withings","profile":["http://hl7.org/fhir/StructureDefinition/vitalsigns","http://hl7.org/fhir/StructureDefinition/heartrate"]},"identifier":[{"system":"urn:ohx:withings:observation","value":"6706de44-bf35-5e2e-8498-a426b41f8e0e"}],"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/123"},"effectiveDateTime":"2026-11-20T09:30:00+01:00","valueQuantity":{"value":64,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"device":{"reference":"Device/5b1e4e89-579e-50c1-b241-677aad432f19"}}
}
