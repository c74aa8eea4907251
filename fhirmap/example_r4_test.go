package fhirmap_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
)

// Example_r4 maps a device and a heart-rate sample to FHIR R4: the Device
// names its patient (R4 has no DeviceAssociation) and the Observation claims
// the US Core heart-rate profile.
func Example_r4() {
	tr, err := fhirmap.New(fhirmap.Config{Version: ohx.R4, NoProvenance: true})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	link := ohx.Link{ID: "link-1", Provider: "withings", ExternalUserID: "12345678", Patient: "Patient/123"}
	rs, err := tr.Transform(context.Background(), ohx.Batch{Link: link,
		Devices: []ohx.Device{{ID: "abc", Provider: "withings", Model: "ScanWatch", Kind: ohx.DeviceWatch}},
		Samples: []ohx.Sample{{Type: ohx.HeartRate, Start: at, End: at, StartOffset: time.Hour, EndOffset: time.Hour,
			Value: 64, Unit: "/min", Provider: "withings", DeviceID: "abc"}}})
	if err != nil {
		panic(err)
	}
	for _, r := range rs {
		fmt.Println(r.FHIRVersion, r.Key())
		fmt.Println(string(r.JSON))
	}
	// Output:
	// R4 Device/5b1e4e89-579e-50c1-b241-677aad432f19
	// {"resourceType":"Device","id":"5b1e4e89-579e-50c1-b241-677aad432f19","meta":{"source":"urn:ohx:withings"},"identifier":[{"system":"urn:ohx:withings:device","value":"abc"}],"status":"active","deviceName":[{"name":"ScanWatch","type":"model-name"}],"type":{"coding":[{"system":"http://snomed.info/sct","code":"49062001","display":"Device"},{"system":"urn:ohx:code","code":"device-kind-watch","display":"Watch"}],"text":"Watch"},"patient":{"reference":"Patient/123"}}
	// R4 Observation/6706de44-bf35-5e2e-8498-a426b41f8e0e
	// {"resourceType":"Observation","id":"6706de44-bf35-5e2e-8498-a426b41f8e0e","meta":{"source":"urn:ohx:withings","profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-heart-rate"]},"identifier":[{"system":"urn:ohx:withings:observation","value":"6706de44-bf35-5e2e-8498-a426b41f8e0e"}],"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/123"},"effectiveDateTime":"2026-11-20T09:30:00+01:00","valueQuantity":{"value":64,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"device":{"reference":"Device/5b1e4e89-579e-50c1-b241-677aad432f19"}}
}
