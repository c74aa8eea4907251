package publish

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// TestOwnTransportSendsABundleWithoutACopyBuffer: a publisher without an
// HTTPClient of the caller's sends its pooled bundle without the 32 KB copy
// buffer net/http's default transport allocates per request for it. The
// figure is allocated bytes per request on both sides of a loopback round
// trip (the server's share and the request's are a few KB).
func TestOwnTransportSendsABundleWithoutACopyBuffer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	chunk := make([]*item, 100) // 100 Observations of about 1 KB
	for i := range chunk {
		id := fmt.Sprintf("00000000-0000-5000-8000-%012d", i)
		chunk[i] = &item{key: "Observation/" + id, typ: "Observation", urn: true,
			body:    json.RawMessage(`{"resourceType":"Observation","id":"` + id + `","note":[{"text":"` + strings.Repeat("x", 900) + `"}]}`),
			request: r5.BundleRequest{Method: r5.MethodPut, URL: "Observation/" + id}}
	}
	perRequest := func(client *http.Client) uint64 {
		p, err := NewFHIR(FHIRConfig{BaseURL: srv.URL, HTTPClient: client})
		require.NoError(t, err)
		send := func() {
			r, err := p.send(t.Context(), "transaction", r5.BundleTransaction, chunk)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, r.status)
			r.release()
		}
		send() // the connection
		// The least of three rounds: whatever else allocates meanwhile
		// only adds.
		least := uint64(math.MaxUint64)
		for range 3 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			const n = 50
			for range n {
				send()
			}
			runtime.ReadMemStats(&ms)
			least = min(least, (ms.TotalAlloc-before)/n)
		}
		return least
	}
	def := http.DefaultTransport.(*http.Transport).Clone()
	defer def.CloseIdleConnections()
	withDefault := perRequest(&http.Client{Transport: def})
	own := perRequest(nil)
	t.Logf("allocated per request: %d B with net/http's default transport, %d B with the publisher's", withDefault, own)
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose: the figures mean nothing")
	}
	assert.Greater(t, withDefault, uint64(32<<10), "the default transport copies through a fresh 32 KB buffer")
	assert.Less(t, own, withDefault-(24<<10))
	tr := ownTransport().(*http.Transport)
	assert.Equal(t, ownIdleConnsPerHost, tr.MaxIdleConnsPerHost)
	assert.NotNil(t, tr.Proxy, "the proxy from the environment, as http.DefaultTransport")
}

// TestOwnTransportSpeaksTLS: the publisher's connections work under TLS
// too (net/http wraps them in its tls.Conn).
func TestOwnTransportSpeaksTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	tr := ownTransport().(*http.Transport).Clone() // the test server's certificate
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	defer tr.CloseIdleConnections()
	p, err := NewFHIR(FHIRConfig{BaseURL: srv.URL, HTTPClient: &http.Client{Transport: tr}, Validate: func([]byte) error { return nil }})
	require.NoError(t, err)
	it, err := p.prepare(&ohx.Resource{Type: "Observation", ID: "o1", JSON: json.RawMessage(`{"resourceType":"Observation","id":"o1"}`)})
	require.NoError(t, err)
	r, err := p.send(t.Context(), "batch", r5.BundleBatch, []*item{it})
	require.NoError(t, err)
	defer r.release()
	assert.Equal(t, string(appendBundle(nil, r5.BundleBatch, []*item{it})), string(r.body), "the bundle arrived whole")
}
