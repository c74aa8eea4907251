package fhirname

import (
	"regexp"
	"testing"
)

var (
	typeRE = regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	idRE   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// FuzzNames holds both checks to the regular expressions they replace.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "Observation", "O", "observation", "Obs1", "Obs[", "Obs@", "a-b.c", "a_b", "é",
		"0123456789012345678901234567890123456789012345678901234567890123", "01234567890123456789012345678901234567890123456789012345678901234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsResourceType(s), typeRE.MatchString(s); got != want {
			t.Errorf("IsResourceType(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := IsID(s), idRE.MatchString(s); got != want {
			t.Errorf("IsID(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
