package ohx

import "slices"

// Policy is an organization's sync policy. The zero value and a nil *Policy
// allow every data type and apply the default linked-data rules.
type Policy struct {
	// AllowedTypes, when not empty, is the set of data types the organization
	// syncs at all.
	AllowedTypes []DataType
	// Companions maps a data type to the types that must be published with
	// it (its linked data). Nil means DefaultCompanions.
	Companions map[DataType][]DataType
}

// DefaultCompanions are the default linked-data rules: ECG and RR intervals
// always come with the heart rate recorded with them.
var DefaultCompanions = map[DataType][]DataType{
	ECG:         {HeartRate},
	RRIntervals: {HeartRate},
}

func (p *Policy) allows(t DataType) (bool, string) {
	if p == nil || len(p.AllowedTypes) == 0 || slices.Contains(p.AllowedTypes, t) {
		return true, ""
	}
	return false, "not allowed by the organization's policy"
}

func (p *Policy) companions(t DataType) []DataType {
	if p == nil || p.Companions == nil {
		return DefaultCompanions[t]
	}
	return p.Companions[t]
}
