package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Wed, 25 Nov 2026 12:00:30 GMT", "later"} {
		d, ok := resilience.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 0s false
}

func ExampleBreakers() {
	reg := resilience.NewBreakers(resilience.BreakersConfig{})
	b := reg.Get("fhir:ehr-1", resilience.BreakerSettings{}) // 3 failures, 30 s open, 2 successes
	down := &ohx.ProviderError{Provider: "ehr-1", Op: "transaction", Kind: ohx.KindTransient, HTTPStatus: 503}
	for range 3 {
		_ = b.Do(context.Background(), func(context.Context) error { return down })
	}
	err := b.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, ohx.ErrCircuitOpen))
	fmt.Println(err)
	for _, st := range reg.Status() {
		fmt.Println(st.Name, st.State, st.ConsecutiveFailures)
	}
	_ = reg.ForceClose("fhir:ehr-1")
	fmt.Println(b.Status().State)
	// Output:
	// true
	// breaker fhir:ehr-1: ohx: circuit open after 3 failures; last: ehr-1 transaction: transient (http 503)
	// fhir:ehr-1 open 3
	// closed
}

func ExampleRetry() {
	calls := 0
	err := resilience.Retry(context.Background(), resilience.RetrySettings{BaseDelay: time.Millisecond},
		func(err error) bool { return ohx.KindOf(err) == ohx.KindTransient },
		func(context.Context) error {
			calls++
			if calls < 3 {
				return fmt.Errorf("attempt %d: %w", calls, ohx.ErrTransient)
			}
			return nil
		})
	fmt.Println(calls, err)
	// Output:
	// 3 <nil>
}

func ExampleScrub() {
	fmt.Println(resilience.Scrub(`Get "https://user:pw@api.example/v1/data?access_token=abc&date=2026-11-01": EOF`))
	fmt.Println(resilience.Scrub("token endpoint said: Authorization: Bearer eyJhbGciOi.x.y refused"))
	fmt.Println(resilience.Scrub("oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"refresh_token\":\"r-123\"}"))
	// Output:
	// Get "https://api.example/v1/data": EOF
	// token endpoint said: Authorization: Bearer [redacted] refused
	// oauth2: cannot fetch token: 400 Bad Request
}
