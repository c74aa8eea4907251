package publish_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
)

// TestFHIRPooledMemoryHoldsUnderFailuresAndConcurrency: the memory a
// publisher reuses (request bodies, bundle entries, decoded answers, its
// transport's copy buffers) is never shared by two calls nor reused while a
// failed request may still read it. Concurrent calls over the publisher's
// own transport meet dropped connections, 503s and refused entries (whose
// bundles go again as batches); every resource ends up stored exactly as it
// was sent, or rejected for its own fault.
func TestFHIRPooledMemoryHoldsUnderFailuresAndConcurrency(t *testing.T) {
	srv := fhirtest.NewServer()
	defer srv.Close()
	p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, // no HTTPClient: the publisher's own transport
		Retry:   resilience.RetrySettings{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
		Breaker: resilience.BreakerSettings{FailureThreshold: 1000}})
	const workers, calls, size = 4, 3, 150
	n := func(w, c, i int) int { return w*10_000 + c*1_000 + i }
	bad := map[string]bool{}
	for w := range workers {
		for c := range calls {
			bad[hrObservation(n(w, c, 7*c+w), "").ID] = true
		}
	}
	srv.RejectIf(func(_, id string, _ []byte) bool { return bad[id] })
	srv.DropNext(2)
	srv.FailNext(2, http.StatusServiceUnavailable, 0)

	sent := make([][]ohx.Resource, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for c := range calls {
				batch := make([]ohx.Resource, size)
				for i := range batch {
					batch[i] = hrObservation(n(w, c, i), "")
				}
				res, err := p.Publish(t.Context(), batch)
				if !assert.NoError(t, err) {
					return
				}
				assert.Len(t, res.Written, size-1, "call %d of worker %d", c, w)
				if assert.Len(t, res.Rejected, 1) {
					assert.True(t, bad[res.Rejected[0].Key[len("Observation/"):]], "only the refused resource is rejected")
				}
				sent[w] = append(sent[w], batch...)
			}
		})
	}
	wg.Wait()
	stored := 0
	for _, rs := range sent {
		for _, r := range rs {
			body, _, ok := srv.Get("Observation", r.ID)
			if bad[r.ID] {
				assert.False(t, ok)
				continue
			}
			require.True(t, ok, r.Key())
			var got, want map[string]any
			require.NoError(t, json.Unmarshal(body, &got))
			require.NoError(t, json.Unmarshal(r.JSON, &want))
			delete(got, "meta") // the server's versionId and lastUpdated
			assert.Equal(t, want, got, r.Key())
			stored++
		}
	}
	assert.Equal(t, workers*calls*(size-1), stored)
	assert.Equal(t, stored, srv.Count("Observation"))
}
