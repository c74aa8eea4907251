package withings

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
)

// The fuzz targets feed arbitrary bytes through the real decoders and
// mappers: they must never panic, and what they accept must map to samples of
// known types.

func checkSamples(t *testing.T, ss []ohx.Sample) {
	t.Helper()
	for _, s := range ss {
		if !s.Type.Valid() {
			t.Fatalf("sample of unknown type %q", s.Type)
		}
		if s.Provider != Name {
			t.Fatalf("sample without provider")
		}
	}
}

// decodeFuzz runs a response through the envelope classifier and the body
// decoder, as the provider does.
func decodeFuzz(t *testing.T, data []byte, out any) bool {
	p, err := New(Config{ClientID: "id", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.classify("fuzz", 200, nil, data)
	if err != nil {
		if ohx.KindOf(err) == ohx.KindUnknown {
			t.Fatalf("unclassified error: %v", err)
		}
		return false
	}
	return decode("fuzz", body, out) == nil
}

func FuzzWebhookForm(f *testing.F) {
	f.Add(string(fixture(f, "notify_post_appli1_doc_example.txt")))
	f.Add("userid=1&appli=46&action=unlink")
	f.Add("userid=1&appli=16&date=2026-11-24")
	f.Add("userid=1&appli=44&startdate=1&enddate=1")
	f.Fuzz(func(t *testing.T, body string) {
		n, ok, err := ParseNotification(body, time.Unix(0, 0))
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
		if !ok {
			return
		}
		if n.ExternalUserID == "" {
			t.Fatal("notification without user")
		}
		if !n.Window.Start.IsZero() && !n.Window.End.After(n.Window.Start) {
			t.Fatal("empty window")
		}
		for _, dt := range n.DataTypes {
			if !dt.Valid() {
				t.Fatalf("unknown type %q", dt)
			}
		}
	})
}

func FuzzDecodeGetmeas(f *testing.F) {
	f.Add(fixture(f, "getmeas_response.json"))
	for _, name := range []string{"getmeas_measuregrps_bpmconnect_bodycardio.json", "getmeas_measuregrps_bodyscan.json"} {
		f.Add(append(append([]byte(`{"status":0,"body":{"more":"1","offset":"3","measuregrps":`), fixture(f, name)...), []byte(`}}`)...))
	}
	f.Add(fixture(f, "error_status401_invalid_token.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b measureBody
		if !decodeFuzz(t, data, &b) {
			return
		}
		var ss []ohx.Sample
		for i := range b.MeasureGrps {
			ss = measureSamples(ss, &b.MeasureGrps[i], allTypes(), time.UTC, mapOptions{includeAmbiguous: true})
		}
		checkSamples(t, dedupe(ss))
	})
}

func FuzzDecodeActivity(f *testing.F) {
	f.Add(fixture(f, "getactivity_response.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b activityBody
		if !decodeFuzz(t, data, &b) {
			return
		}
		for i := range b.Activities {
			if s, ok := activitySample(&b.Activities[i], time.UTC); ok {
				checkSamples(t, []ohx.Sample{s})
				if !s.End.After(s.Start) {
					t.Fatal("a day that does not last")
				}
			}
		}
	})
}

func FuzzDecodeIntraday(f *testing.F) {
	f.Add(append(append([]byte(`{"status":0,"body":{"series":`), fixture(f, "getintradayactivity_body_series_scanwatch.json")...), []byte(`}}`)...))
	f.Add([]byte(`{"status":0,"body":{"series":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b intradayBody
		if !decodeFuzz(t, data, &b) {
			return
		}
		checkSamples(t, intradaySamples(nil, b.Series, allTypes(), time.UTC))
	})
}

func FuzzDecodeHeart(f *testing.F) {
	f.Add(fixture(f, "heart_list_response.json"), fixture(f, "heart_get_response.json"))
	f.Fuzz(func(t *testing.T, list, get []byte) {
		var lb heartListBody
		var gb heartGetBody
		if !decodeFuzz(t, list, &lb) || !decodeFuzz(t, get, &gb) {
			return
		}
		for i := range lb.Series {
			ss := ecgSamples(nil, &lb.Series[i], &gb, time.UTC)
			checkSamples(t, ss)
			if len(ss) > 0 && len(ss[0].Waveform.Samples) != len(gb.Signal) {
				t.Fatal("signal truncated")
			}
		}
	})
}

func FuzzDecodeSleep(f *testing.F) {
	f.Add(fixture(f, "sleep_getsummary_response.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b sleepSummaryBody
		if decodeFuzz(t, data, &b) {
			for i := range b.Series {
				if s, ok := sleepSummarySample(&b.Series[i], time.UTC); ok {
					checkSamples(t, []ohx.Sample{s})
				}
			}
		}
		var g sleepGetBody
		if json.Unmarshal(data, &g) == nil {
			checkSamples(t, sleepGetSamples(nil, g.Series, allTypes(), time.UTC))
		}
	})
}

func FuzzDecodeDevices(f *testing.F) {
	f.Add(fixture(f, "getdevice_response.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b deviceBody
		if !decodeFuzz(t, data, &b) {
			return
		}
		seen := map[string]bool{}
		for _, d := range devicesOf(b.Devices) {
			if d.ID == "" || seen[d.ID] {
				t.Fatal("device without id or repeated")
			}
			seen[d.ID] = true
		}
	})
}

func FuzzDecodeToken(f *testing.F) {
	f.Add(fixture(f, "oauth2_requesttoken_response.json"))
	f.Add(fixture(f, "notify_list_response.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tb tokenBody
		_ = decodeFuzz(t, data, &tb)
		var nl notifyListBody
		_ = decodeFuzz(t, data, &nl)
	})
}
