package fhirmap

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/openhealthexchange/ohx"
)

// EnteredInError returns a copy of r whose status says entered-in-error, to be
// published under the same id when the provider deleted the record (the engine
// finds such resources by searching the destination; ohx keeps no copy). It
// supports Observation, DiagnosticReport, Device and DeviceAssociation.
func EnteredInError(r ohx.Resource) (ohx.Resource, error) {
	dec := json.NewDecoder(bytes.NewReader(r.JSON))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: decode %s: not a JSON object", r.Key())
	}
	if rt, _ := m["resourceType"].(string); rt != r.Type {
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s: JSON resourceType does not match", r.Key())
	}
	switch r.Type {
	case "Observation":
		m["status"] = string(ObservationEnteredInError)
	case "DiagnosticReport":
		m["status"] = string(ReportEnteredInError)
	case "Device":
		m["status"] = string(DeviceEnteredInError)
	case "DeviceAssociation":
		m["status"] = AssociationStatus(AssociationEnteredInError)
	default:
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s has no entered-in-error status", r.Type)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: encode %s: %w", r.Key(), err)
	}
	out := r
	out.JSON = data
	return out, nil
}
