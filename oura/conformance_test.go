package oura_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/resilience"
)

// TestConformance runs the toolkit's conformance suite against the Oura
// provider wired to the fake, with paging forced (two documents, 100
// heart-rate rows a page) and every data type requested.
func TestConformance(t *testing.T) {
	// A sustained outage opens the API's breaker; restore closes it as an
	// operator would, so the check does not depend on timing.
	breakers := resilience.NewBreakers(resilience.BreakersConfig{})
	e := newEnv(t, ouratest.Config{PageSize: 2, HeartRatePageSize: 100, RateLimit: -1}, func(c *oura.Config) {
		c.Breakers = breakers
		c.UserLimit = provider.NoLimit()
	})
	// Failures are checked without in-call retries, so a Retry-After does
	// not outlive the failure.
	cfg := e.cfg
	cfg.Retry = resilience.RetrySettings{MaxAttempts: 1}
	failing, err := oura.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[providertest.Failure]int{
		providertest.FailAuth:        http.StatusUnauthorized,
		providertest.FailRateLimited: http.StatusTooManyRequests,
		providertest.FailServer:      http.StatusServiceUnavailable,
	}
	providertest.Run(t, providertest.Config{
		Provider: e.p,
		Link:     e.link,
		// Three days before the fake's now, starting and ending mid-day, so
		// nights, days and the weekly VO2max fall in both halves or one.
		Window:     ohx.Window{Start: time.Date(2026, 11, 16, 9, 30, 0, 0, time.UTC), End: time.Date(2026, 11, 19, 13, 0, 0, 0, time.UTC)},
		Types:      e.p.DataTypes(),
		AllowEmpty: []ohx.DataType{ohx.VO2Max},
		Fail: func(f providertest.Failure) (ohx.Provider, func()) {
			restore := e.fake.FailWith(statuses[f])
			return failing, func() {
				restore()
				if err := breakers.ForceClose(oura.Name); err != nil {
					t.Errorf("close breaker: %v", err)
				}
			}
		},
	})
}
