package ohx

import "testing"

func TestParseFHIRVersion(t *testing.T) {
	for in, want := range map[string]FHIRVersion{"": R5, "r5": R5, " R4 ": R4, "R4": R4} {
		got, err := ParseFHIRVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseFHIRVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFHIRVersion("STU3"); err == nil {
		t.Error("STU3 accepted")
	}
	if FHIRVersion("").String() != "R5" || R4.Number() != "4.0.1" || R5.Number() != "5.0.0" {
		t.Error("zero value or numbers wrong")
	}
}
