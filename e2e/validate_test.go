package e2e

import (
	"encoding/json"
	"errors"

	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

// validator is the check resources pass at the publisher and at the FHIR
// server: the R5 schema (validate.Resource), or under the race detector a
// structural check (see raceEnabled).
func validator() func([]byte) error {
	if !raceEnabled {
		return validate.Resource
	}
	return func(b []byte) error {
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return err
		}
		if head.ResourceType == "" {
			return errors.New("no resourceType")
		}
		return nil
	}
}

func fhirtestOptions(more ...fhirtest.Option) []fhirtest.Option {
	return append([]fhirtest.Option{fhirtest.WithValidator(validator())}, more...)
}
