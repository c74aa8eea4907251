package fitbit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
)

func TestConformance(t *testing.T) {
	// A sustained outage opens the breaker; a short open period lets the
	// suite see the provider recover once the failure is lifted.
	e := newEnv(t, fitbittest.Config{HeartRateEvery: time.Minute, RateLimitPerMinute: -1}, func(c *fitbit.Config) {
		c.Breaker = provider.BreakerSettings{OpenTimeout: 10 * time.Millisecond, HalfOpenSuccesses: 1}
	})
	statuses := map[providertest.Failure]int{
		providertest.FailAuth:        http.StatusUnauthorized,
		providertest.FailRateLimited: http.StatusTooManyRequests,
		providertest.FailServer:      http.StatusServiceUnavailable,
	}
	providertest.Run(t, providertest.Config{
		Provider: e.p,
		Link:     e.link,
		// Two days before the fake's now, starting mid-day, so every kind
		// (dense, sparse, daily, sleep, ECG) has points in both halves.
		Window: ohx.Window{Start: time.Date(2026, 11, 17, 9, 30, 0, 0, time.UTC), End: time.Date(2026, 11, 19, 13, 0, 0, 0, time.UTC)},
		Types:  e.p.DataTypes(),
		Fail: func(f providertest.Failure) (ohx.Provider, func()) {
			return e.p, e.fake.FailWith(statuses[f])
		},
	})
}
