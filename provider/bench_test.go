package provider_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// BenchmarkClientDo measures the client's overhead (limits, breaker,
// classification, body read) against a bare http.Client on loopback.
func BenchmarkClientDo(b *testing.B) {
	body := []byte(`{"status":0,"body":{"measuregrps":[],"more":0}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	b.Run("bare", func(b *testing.B) {
		hc := srv.Client()
		for b.Loop() {
			resp, err := hc.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 512)
			_, _ = resp.Body.Read(buf)
			_ = resp.Body.Close()
		}
	})
	b.Run("client", func(b *testing.B) {
		c, err := provider.NewClient(provider.Config{Provider: "bench", HTTPClient: srv.Client(),
			AppLimit: resilience.Limit{Rate: 1e9, Burst: 1 << 20}, UserLimit: resilience.Limit{Rate: 1e9, Burst: 1 << 20}})
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		op := provider.Op{Name: "bench", Idempotent: true, User: "u1"}
		for b.Loop() {
			if _, err := c.Do(b.Context(), op, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
