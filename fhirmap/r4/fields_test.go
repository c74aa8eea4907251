package r4_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// TestEveryR5ElementHasAnR4Decision lists, per R5 struct, the fields the
// conversion carries to R4 and those it leaves out on purpose (no R4
// element; see the package documentation). A field added to package r5
// fails here until the conversion decides what R4 does with it, so a new R5
// element can never vanish from R4 output unnoticed.
func TestEveryR5ElementHasAnR4Decision(t *testing.T) {
	for _, tc := range []struct {
		v                  any
		converted, leftOut []string
	}{
		{r5.Observation{}, []string{"ID", "Meta", "Identifier", "Status", "Category", "Code", "Subject", "EffectiveDateTime",
			"EffectivePeriod", "EffectiveInstant", "Issued", "Performer", "ValueQuantity", "ValueCodeableConcept", "ValueString",
			"ValueInteger", "ValueSampledData", "ValuePeriod", "DataAbsentReason", "Interpretation", "Note", "BodySite", "Method",
			"Device", "ReferenceRange", "HasMember", "DerivedFrom", "Component"}, []string{"TriggeredBy"}},
		{r5.ObservationComponent{}, []string{"Code", "ValueQuantity", "ValueCodeableConcept", "ValueString", "ValueInteger",
			"ValueSampledData", "ValuePeriod", "DataAbsentReason", "Interpretation", "ReferenceRange"}, nil},
		{r5.ObservationReferenceRange{}, []string{"Low", "High", "Type", "Text"}, []string{"NormalValue"}},
		{r5.SampledData{}, []string{"Origin", "Interval", "IntervalUnit", "Factor", "LowerLimit", "UpperLimit", "Dimensions",
			"Offsets", "Data", "CodeMap"}, nil},
		{r5.DiagnosticReport{}, []string{"ID", "Meta", "Identifier", "Status", "Category", "Code", "Subject", "EffectiveDateTime",
			"EffectivePeriod", "Issued", "Performer", "Result", "Conclusion", "ConclusionCode"}, []string{"Note", "SupportingInfo", "Media"}},
		{r5.Device{}, []string{"ID", "Meta", "Identifier", "Status", "Manufacturer", "SerialNumber", "Name", "ModelNumber", "Type",
			"Version", "Property", "Note"}, []string{"DisplayName", "Category"}},
		{r5.DeviceName{}, []string{"Value", "Type"}, []string{"Display"}},
		{r5.DeviceVersion{}, []string{"Type", "Component", "Value"}, []string{"InstallDate"}},
		{r5.DeviceProperty{}, []string{"Type", "ValueQuantity", "ValueCodeableConcept", "ValueString", "ValueBoolean",
			"ValueInteger", "ValueRange"}, nil},
		{r5.DeviceAssociation{}, []string{"Subject", "Status"}, []string{"ID", "Meta", "Identifier", "Device", "Category",
			"StatusReason", "Period"}},
		{r5.Provenance{}, []string{"ID", "Meta", "Target", "OccurredPeriod", "OccurredDateTime", "Recorded", "Activity", "Agent",
			"Entity"}, []string{"Patient"}},
		{r5.ProvenanceAgent{}, []string{"Type", "Role", "Who", "OnBehalfOf"}, nil},
		{r5.ProvenanceEntity{}, []string{"Role", "What"}, nil},
	} {
		typ := reflect.TypeOf(tc.v)
		for i := range typ.NumField() {
			f := typ.Field(i).Name
			assert.True(t, slices.Contains(tc.converted, f) || slices.Contains(tc.leftOut, f),
				"r5.%s.%s is new: decide its R4 form in fhirmap/r4 and list it here", typ.Name(), f)
		}
	}
}
