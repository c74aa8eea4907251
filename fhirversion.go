package ohx

import (
	"fmt"
	"strings"
)

// FHIRVersion names the FHIR release a resource is written in. The zero value
// means R5, ohx's default.
type FHIRVersion string

// The FHIR releases ohx writes.
const (
	// R5 is FHIR 5.0.0, the default.
	R5 FHIRVersion = "R5"
	// R4 is FHIR 4.0.1, which most EHR FHIR servers speak.
	R4 FHIRVersion = "R4"
)

// String returns "R5" or "R4"; the zero value prints as "R5".
func (v FHIRVersion) String() string {
	if v == "" {
		return string(R5)
	}
	return string(v)
}

// Number returns the release's version number as a CapabilityStatement
// states it in fhirVersion ("5.0.0", "4.0.1").
func (v FHIRVersion) Number() string {
	if v == R4 {
		return "4.0.1"
	}
	return "5.0.0"
}

// ParseFHIRVersion reads "R5" or "R4" (any case); empty means R5.
func ParseFHIRVersion(s string) (FHIRVersion, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "R5":
		return R5, nil
	case "R4":
		return R4, nil
	}
	return "", fmt.Errorf("ohx: unknown FHIR version %q (want R5 or R4)", s)
}
