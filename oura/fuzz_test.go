package oura

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// seedFixtures adds every JSON fixture to the corpus.
func seedFixtures(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fixtures"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "fixtures", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// wrap puts a document into a page envelope, so single-document fixtures
// seed the page decoders too.
func wrap(b []byte) []byte {
	return append(append([]byte(`{"data":[`), b...), []byte(`],"next_token":null}`)...)
}

// FuzzDecodeCollections decodes any body as each collection page the
// provider reads and maps it: no panic, and every sample mapped passes
// Sample.Validate in the window it was mapped for.
func FuzzDecodeCollections(f *testing.F) {
	seedFixtures(f)
	f.Add(wrap(fixture(f, "sleep_document.json")))
	f.Add(wrap(fixture(f, "sandbox_sleep_document.json")))
	f.Add([]byte(`{"data":[{"id":"x","type":"long_sleep","day":"2024-02-30","bedtime_start":"2024-01-01T00:00:00+14:00","bedtime_end":"2024-01-01T00:00:00-12:00","hrv":{"interval":1e-300,"items":[1,2],"timestamp":"2024-01-01"}}]}`))
	f.Add([]byte(`{"data":[{"bpm":1e308,"timestamp":"2024-01-01T00:00:00Z","timestamp_unix":-1},{"bpm":-3,"timestamp":null}]}`))
	w := ohx.Window{Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, loc := range []*time.Location{time.UTC, berlin, pacific} {
			m := &mapper{loc: loc, want: allTypes}
			var out []ohx.Sample
			var hr wire.Page[wire.HeartRate]
			if json.Unmarshal(b, &hr) == nil {
				out = m.heartRates(out, hr.Data, w)
			}
			var sl wire.Page[wire.Sleep]
			if json.Unmarshal(b, &sl) == nil {
				out = m.sleeps(out, sl.Data)
			}
			var da wire.Page[wire.DailyActivity]
			if json.Unmarshal(b, &da) == nil {
				out = m.activities(out, da.Data)
			}
			var dr wire.Page[wire.DailyReadiness]
			if json.Unmarshal(b, &dr) == nil {
				out = m.readiness(out, dr.Data)
			}
			var sp wire.Page[wire.DailySpO2]
			if json.Unmarshal(b, &sp) == nil {
				out = m.spo2(out, sp.Data)
			}
			var vo wire.Page[wire.VO2Max]
			if json.Unmarshal(b, &vo) == nil {
				out = m.vo2Max(out, vo.Data)
			}
			for _, s := range out {
				if err := s.Validate(); err != nil {
					t.Fatalf("mapped %s sample is invalid: %v", s.Type, err)
				}
				if s.Provider != Name {
					t.Fatalf("sample names provider %q", s.Provider)
				}
			}
		}
	})
}

// FuzzParseEvent: no panic; a malformed body is ErrMalformedEvent; an
// accepted event names a user, the types to read, a kind and a window.
func FuzzParseEvent(f *testing.F) {
	seedFixtures(f)
	var fx synthetic
	if err := json.Unmarshal(fixture(f, "webhook_delivery_signed_SYNTHETIC.json"), &fx); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(fx.Request.Body))
	f.Add([]byte(`{"event_type":"delete","data_type":"vo2_max","object_id":"o","event_time":"3000-01-01T00:00:00Z","user_id":"u"}`))
	f.Add([]byte(`{"event_type":"update","data_type":"daily_activity","user_id":"u","event_time":"2006-01-02T15:04:05"}`))
	received := time.Date(2024, 10, 10, 7, 30, 30, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok, err := ParseEvent(b, received, 0)
		switch {
		case err != nil:
			if !errors.Is(err, ErrMalformedEvent) || ok {
				t.Fatalf("error %v (ok %v) is not a malformed event", err, ok)
			}
		case ok:
			if n.ExternalUserID == "" || len(n.DataTypes) == 0 || n.Provider != Name {
				t.Fatalf("accepted event is incomplete: %+v", n)
			}
			if n.Kind != ohx.NotifyData && n.Kind != ohx.NotifyDelete {
				t.Fatalf("kind %q", n.Kind)
			}
			if err := n.Window.Validate(); err != nil || n.Window.Duration() > DefaultWebhookLookback+time.Minute {
				t.Fatalf("window %s: %v", n.Window, err)
			}
			if n.Window.End.Sub(received) > maxEventSkew+time.Minute || received.Sub(n.Window.Start) > maxEventSkew+DefaultWebhookLookback {
				t.Fatalf("window %s is far from the receipt", n.Window)
			}
		}
	})
}

// FuzzWebhookHandler posts any body, signed or not, to the handler: it
// answers only 204, 400, 401 or 413, and hands on a notification only for a
// correctly signed event.
func FuzzWebhookHandler(f *testing.F) {
	var fx synthetic
	if err := json.Unmarshal(fixture(f, "webhook_delivery_signed_SYNTHETIC.json"), &fx); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(fx.Request.Body), "1728545400", true)
	f.Add([]byte(fx.Request.Body), "1728545400", false)
	f.Add([]byte(`{}`), "x", true)
	f.Add([]byte(fx.Request.Body), "1728545400000", true)
	at := time.Unix(1728545400, 0)
	p, err := New(Config{ClientID: "id", ClientSecret: fx.ClientSecret, Common: provider.Common{Now: func() time.Time { return at }}, Webhook: WebhookConfig{VerificationToken: "vt"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, ts string, sign bool) {
		notified := 0
		h := p.WebhookHandler(func(context.Context, ohx.Notification) error { notified++; return nil })
		req := httptest.NewRequest(http.MethodPost, "/webhooks/oura", bytes.NewReader(body))
		req.Header.Set(TimestampHeader, ts)
		if sign {
			req.Header.Set(SignatureHeader, provider.SignHMACSHA256([]byte(fx.ClientSecret), []byte(ts), body))
		} else {
			req.Header.Set(SignatureHeader, strings.Repeat("A", 64))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if notified > 0 && (!sign || rec.Code != http.StatusNoContent) {
			t.Fatalf("notified for an unsigned or refused delivery (status %d)", rec.Code)
		}
		if !sign && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("unsigned delivery answered %d", rec.Code)
		}
	})
}
