package publish_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestFHIRRateLimitSpacesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fhirtest.New()
		p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(),
			RateLimit: resilience.Limit{Rate: 1, Burst: 1}})
		require.NoError(t, err)
		start := time.Now()
		for i := range 3 {
			_, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(i, "")})
			require.NoError(t, err)
		}
		assert.Equal(t, 3*time.Second, time.Since(start), "one request per second: GET metadata, three transactions")
		assert.Equal(t, 3, srv.Count("Observation"))
	})
}

func TestFHIRRetryAfterPausesEveryRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fhirtest.New()
		p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
		srv.FailNext(1, http.StatusTooManyRequests, 5*time.Second)
		start := time.Now()
		var wg sync.WaitGroup
		send := func(n int) {
			wg.Go(func() {
				_, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(n, "")})
				assert.NoError(t, err)
				assert.Equal(t, 5*time.Second, time.Since(start), "both wait for the Retry-After")
			})
		}
		send(1)
		synctest.Wait() // the first publication got its 429
		require.Equal(t, 1+1, srv.RequestCount(), "GET metadata, the first transaction")
		send(2)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1+1, srv.RequestCount(), "the second publication holds back too")
		wg.Wait()
		assert.Equal(t, 1+3, srv.RequestCount())
		assert.Equal(t, 2, srv.Count("Observation"))
	})
}
