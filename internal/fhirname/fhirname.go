// Package fhirname checks the two names every FHIR resource carries, its
// type and its id, with byte loops instead of regular expressions: the
// publisher, the validator and the FHIR test server check them for every
// resource.
package fhirname

// IsResourceType reports whether s looks like a resource type,
// ^[A-Z][A-Za-z]+$.
func IsResourceType(s string) bool {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// IsID reports whether s is a FHIR id, ^[A-Za-z0-9\-.]{1,64}$ (the id
// datatype of R4 and R5).
func IsID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
