package ohx_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/store"
)

// TestThermoProviderConformance runs the conformance suite every provider
// passes on the custom provider of Example_customProvider: valid samples in
// the window and in order, stable paging, cancellation without leaks, and
// classified failures (the fake answers 401, 429 and 503 on demand).
func TestThermoProviderConformance(t *testing.T) {
	cloud := newThermoCloud("access-token-1")
	t.Cleanup(cloud.Close)
	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: "thermo", Patient: "Patient/123", Status: ohx.LinkActive}
	require.NoError(t, st.SaveToken(t.Context(), link.ID, ohx.Token{AccessToken: "access-token-1"}))
	p := &thermoProvider{base: cloud.URL, client: cloud.Client(), tokens: st}

	start := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	providertest.Run(t, providertest.Config{
		Provider: p,
		Link:     link,
		Window:   ohx.Window{Start: start, End: start.Add(72 * time.Hour)},
		Types:    []ohx.DataType{ohx.BodyTemperature},
		Fail: func(f providertest.Failure) (ohx.Provider, func()) {
			status := map[providertest.Failure]int{
				providertest.FailAuth:        http.StatusUnauthorized,
				providertest.FailRateLimited: http.StatusTooManyRequests,
				providertest.FailServer:      http.StatusServiceUnavailable,
			}[f]
			cloud.failWith.Store(int32(status))
			return p, func() { cloud.failWith.Store(0) }
		},
	})
}
