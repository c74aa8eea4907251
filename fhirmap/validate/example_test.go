package validate_test

import (
	"errors"
	"fmt"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// Example rejects an R4-shaped SampledData (period instead of interval) and a
// status code outside the required value set, naming paths but not values.
func Example() {
	err := validate.Resource([]byte(`{"resourceType":"Observation","status":"done","code":{"text":"ECG"},
		"valueSampledData":{"origin":{"value":0},"period":4,"dimensions":1,"data":"1 2 3"}}`))
	var ve *validate.Error
	if errors.As(err, &ve) {
		for _, v := range ve.Violations {
			fmt.Println(v)
		}
	}
	// Output:
	// Observation.valueSampledData: unknown element(s) period (not in R5) (schema)
	// Observation.status: status is not a code of the required value set observation-status (code)
	// Observation.valueSampledData.intervalUnit: intervalUnit is required (R5) (required)
	// Observation.valueSampledData: exactly one of interval or offsets must be present (sdd-1)
}

// ExampleResourceVersion validates as FHIR R4: the R5 SampledData shape
// (interval, intervalUnit) is unknown there, and R4's required period is
// missing.
func ExampleResourceVersion() {
	err := validate.ResourceVersion(ohx.R4, []byte(`{"resourceType":"Observation","status":"final","code":{"text":"ECG"},
		"valueSampledData":{"origin":{"value":0},"interval":4,"intervalUnit":"ms","dimensions":1,"data":"1 2 3"}}`))
	var ve *validate.Error
	if errors.As(err, &ve) {
		fmt.Println(ve.Version)
		for _, v := range ve.Violations {
			fmt.Println(v)
		}
	}
	// Output:
	// R4
	// Observation.valueSampledData: unknown element(s) interval, intervalUnit (not in R4) (schema)
	// Observation.valueSampledData.period: period is required (R4) (required)
}
