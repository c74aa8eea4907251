package fitbit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// seedFixtures adds every fixture file (and the responses of request and
// response pairs) to the corpus.
func seedFixtures(f *testing.F, prefix string) {
	dir := fixtureDir(f)
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || (prefix != "" && !strings.HasPrefix(e.Name(), prefix)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeDataPoints decodes list responses and maps them: no panic, and
// every sample yielded passes Sample.Validate.
func FuzzDecodeDataPoints(f *testing.F) {
	seedFixtures(f, "list_")
	f.Add([]byte(`{"dataPoints":[{"electrocardiogram":{"interval":{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-01T00:00:00Z"},"waveformSamples":[1,2,3],"samplingFrequencyHertz":250,"millivoltsScalingFactor":1000,"beatsPerMinuteAvg":"70"}}]}`))
	f.Add([]byte(`{"dataPoints":[{"weight":{"weightGrams":"NaN","sampleTime":{"physicalTime":"2026-01-01T00:00:00Z","utcOffset":"3600s"}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r wire.ListResponse
		if json.Unmarshal(b, &r) != nil {
			return
		}
		for _, loc := range []*time.Location{time.UTC, newYork} {
			for _, s := range mapAll(r, loc) {
				if s.Start.IsZero() {
					continue // an absent time decodes to zero; the engine rejects it
				}
				if err := s.Validate(); err != nil && !strings.Contains(err.Error(), "ends before") &&
					!strings.Contains(err.Error(), "waveform") && !strings.Contains(err.Error(), "millivolt") && !strings.Contains(err.Error(), "sampling") {
					t.Fatalf("mapped sample is invalid: %v", err)
				}
			}
		}
	})
}

// FuzzDecodeOther decodes the other response shapes.
func FuzzDecodeOther(f *testing.F) {
	seedFixtures(f, "")
	f.Fuzz(func(t *testing.T, b []byte) {
		var d wire.PairedDevicesResponse
		if json.Unmarshal(b, &d) == nil {
			for i := range d.PairedDevices {
				_ = deviceOf(&d.PairedDevices[i])
			}
		}
		var s wire.Settings
		_ = json.Unmarshal(b, &s)
		var id wire.Identity
		_ = json.Unmarshal(b, &id)
		var subs wire.SubscribersResponse
		if json.Unmarshal(b, &subs) == nil {
			for _, x := range subs.Subscribers {
				_ = subscriberOf(x)
			}
		}
		err := classify("op", fakeResponse(400, b))
		if ohx.KindOf(err) != ohx.KindPermanent {
			t.Fatalf("a 400 is permanent, got %v", ohx.KindOf(err))
		}
	})
}

// FuzzParseNotifications parses webhook bodies: no panic, and every
// notification names a user, a kind and known data types.
func FuzzParseNotifications(f *testing.F) {
	seedFixtures(f, "webhook_")
	f.Add([]byte(`[{"data":{"healthUserId":"u","operation":"DELETE","dataType":"heartRate","intervals":[{"civilIso8601TimeInterval":"2026-08-13/2026-08-14"}]}}]`))
	f.Add([]byte(`{"healthUserId":"u","operation":"UPDATE","dataType":"sleep","intervals":[{"civilDateTimeInterval":{"startDateTime":{"date":{"year":2026,"month":2,"day":30}}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := parseNotifications(b, time.Unix(0, 0))
		if err != nil {
			return
		}
		for _, n := range ns {
			if n.ExternalUserID == "" || (n.Kind != ohx.NotifyData && n.Kind != ohx.NotifyDelete) || len(n.DataTypes) == 0 {
				t.Fatalf("bad notification %+v", n)
			}
			for _, dt := range n.DataTypes {
				if !dt.Valid() {
					t.Fatalf("unknown type %q", dt)
				}
			}
			if !n.Window.Empty() && n.Window.Validate() != nil {
				t.Fatalf("bad window %v", n.Window)
			}
		}
	})
}

// FuzzDecodePage: the streaming page decoder yields the samples the
// decoder before it (decodePageReflect: json.Unmarshal of the page) yields
// for the same bytes, or both refuse the page; the one allowed difference is
// a page that lists its points twice, which streaming refuses.
func FuzzDecodePage(f *testing.F) {
	seedFixtures(f, "list_")
	seedFixtures(f, "daily_")
	f.Add(heartRatePage()[:4000])
	f.Add([]byte(`{"dataPoints":[{"oxygenSaturation":{"percentage":"NaN","sampleTime":{"physicalTime":"2026-01-08T00:00:00Z"}}},{"steps":{"count":"7","interval":{"startTime":"2026-01-08T00:00:00Z","endTime":"2026-01-08T00:01:00Z"}}}]}`))
	w := ohx.Window{Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, loc := range []*time.Location{time.UTC, newYork} {
			m := &mapper{loc: loc}
			wantNext, want, wantGroups, wantErr := decodePageReflect(b, m, w, nil, nil)
			gotNext, got, gotGroups, gotErr := decodePage(bytes.NewReader(b), m, w, nil, nil)
			if errors.Is(gotErr, wire.ErrRepeatedList) && wantErr == nil {
				continue
			}
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("reference error %v, streaming error %v", wantErr, gotErr)
			}
			if wantErr != nil {
				continue
			}
			if wantNext != gotNext || fmt.Sprintf("%+v", want) != fmt.Sprintf("%+v", got) || !slices.Equal(wantGroups, gotGroups) {
				t.Fatalf("streaming decoded differently:\n%+v %v %q\n%+v %v %q", want, wantGroups, wantNext, got, gotGroups, gotNext)
			}
		}
	})
}
