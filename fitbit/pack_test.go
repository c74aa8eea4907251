package fitbit

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
)

// TestSameTemplateComparesEveryField guards sameTemplate and packed: every
// field of ohx.Sample is either packed (varies per sample), compared by
// sameTemplate, or a reference that is never shared. A new field must be
// placed in one of these lists (and in the code) before this passes.
func TestSameTemplateComparesEveryField(t *testing.T) {
	packedFields := []string{"Start", "End", "StartOffset", "EndOffset", "Value", "RecordID"}
	compared := []string{"Type", "Unit", "Provider", "DeviceID", "DeviceName", "Recording", "Group", "CompanionOf", "ProviderType", "Created", "Modified"}
	neverShared := []string{"Components", "Waveform", "Series", "Aggregate"}
	known := slices.Concat(packedFields, compared, neverShared)
	st := reflect.TypeFor[ohx.Sample]()
	for i := range st.NumField() {
		if f := st.Field(i).Name; !slices.Contains(known, f) {
			t.Errorf("ohx.Sample.%s is neither packed, compared by sameTemplate nor never shared", f)
		}
	}
	if st.NumField() != len(known) {
		t.Errorf("ohx.Sample has %d fields, the lists name %d", st.NumField(), len(known))
	}
}

// TestRangeBufRoundTrip: what is packed comes back field for field, with
// templates shared only between samples that agree on every other field.
func TestRangeBufRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	hr := func(i int) ohx.Sample {
		return ohx.Sample{Type: ohx.HeartRate, Start: at.Add(time.Duration(i) * time.Second), End: at.Add(time.Duration(i) * time.Second),
			StartOffset: -4 * time.Hour, EndOffset: -4 * time.Hour, Value: float64(60 + i), Unit: "/min", Provider: Name,
			DeviceName: "Inspire 3", Recording: ohx.RecordedByDevice, RecordID: "dp-" + string(rune('a'+i))}
	}
	ecg := ohx.Sample{Type: ohx.ECG, Start: at, End: at.Add(30 * time.Second), Provider: Name, Group: "ecg-1",
		Waveform: &ohx.Waveform{Samples: []int32{1, 2}, SamplingFrequency: 250, Lead: "I"}}
	other := hr(5)
	other.DeviceName = "Pixel Watch"
	other.Created = at
	want := []ohx.Sample{hr(0), hr(1), hr(2), ecg, hr(3), other, hr(6)}
	var b rangeBuf
	for _, s := range want {
		b.add(&s)
	}
	if len(b.tmpls) != 5 { // hr, ecg, hr, other, hr
		t.Errorf("%d templates, want 5", len(b.tmpls))
	}
	for i, s := range want {
		if got := b.sample(i); !reflect.DeepEqual(got, s) {
			t.Errorf("sample %d: got %+v, want %+v", i, got, s)
		}
	}
}
