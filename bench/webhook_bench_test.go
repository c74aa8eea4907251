package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
)

type nopTransformer struct{}

func (nopTransformer) Transform(context.Context, ohx.Batch) ([]ohx.Resource, error) { return nil, nil }

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, []ohx.Resource) (ohx.PublishResult, error) {
	return ohx.PublishResult{}, nil
}

// BenchmarkWebhookHandler measures the daemon's webhook intake in process:
// a Withings form notification for a linked user through server.Handler
// (secret check, form parsing, link lookup, enqueue with coalescing into the
// memory queue), without network. The load program (bench/load) measures it
// over loopback with the Redis queue.
func BenchmarkWebhookHandler(b *testing.B) {
	st := store.NewMemory()
	p, err := withings.New(withings.Config{ClientID: "c", ClientSecret: "s",
		Webhook: withings.WebhookConfig{Secret: "bench-secret-0123456789"},
		Common:  provider.Common{Tokens: st},
	})
	if err != nil {
		b.Fatal(err)
	}
	q, err := queue.NewMemory(queue.Config{})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st,
		Transformer: nopTransformer{}, Publisher: nopPublisher{}})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{p},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), Debounce: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.SaveLink(context.Background(), ohx.Link{ID: "l1", Provider: withings.Name, ExternalUserID: "4242",
		Patient: "Patient/1", Status: ohx.LinkActive}); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	end := time.Now().Unix()
	body := url.Values{"userid": {"4242"}, "appli": {"1"}, "startdate": {strconv.FormatInt(end-60, 10)},
		"enddate": {strconv.FormatInt(end, 10)}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/bench-secret-0123456789", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "127.0.0.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/request")
}
