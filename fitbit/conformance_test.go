package fitbit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestConformance(t *testing.T) {
	// A sustained outage opens the API's breaker (default settings); when
	// the fake recovers, restore closes it as an operator would
	// (Breakers.ForceClose), so the check does not depend on timing.
	breakers := resilience.NewBreakers(resilience.BreakersConfig{})
	e := newEnv(t, fitbittest.Config{HeartRateEvery: time.Minute, RateLimitPerMinute: -1}, func(c *fitbit.Config) {
		c.Breakers = breakers
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
			restore := e.fake.FailWith(statuses[f])
			return e.p, func() {
				restore()
				if err := breakers.ForceClose("fitbit"); err != nil {
					t.Errorf("close breaker: %v", err)
				}
			}
		},
	})
}
