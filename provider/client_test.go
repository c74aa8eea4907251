package provider_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// fakeAPI answers with the status its mode says and counts hits.
type fakeAPI struct {
	status atomic.Int32
	header atomic.Value // http.Header
	body   atomic.Value // string
	hits   atomic.Int32
}

func newFakeAPI(status int) *fakeAPI {
	f := &fakeAPI{}
	f.set(status, nil, `{"ok":true}`)
	return f
}

func (f *fakeAPI) set(status int, h http.Header, body string) {
	if h == nil {
		h = http.Header{}
	}
	f.status.Store(int32(status))
	f.header.Store(h)
	f.body.Store(body)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.hits.Add(1)
	for k, v := range f.header.Load().(http.Header) {
		w.Header()[k] = v
	}
	w.WriteHeader(int(f.status.Load()))
	_, _ = w.Write([]byte(f.body.Load().(string)))
}

func newClient(t *testing.T, hc *http.Client, m ohx.Metrics, mod func(*provider.Config)) *provider.Client {
	t.Helper()
	cfg := provider.Config{Provider: "acme", HTTPClient: hc, Metrics: m}
	if mod != nil {
		mod(&cfg)
	}
	c, err := provider.NewClient(cfg)
	require.NoError(t, err)
	return c
}

func get(t *testing.T, base string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/data?access_token=SECRET-TOKEN", nil)
	require.NoError(t, err)
	return req
}

var read = provider.Op{Name: "data.list", Idempotent: true}

func TestBreakerOpensAfterThreeServerErrorsAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusInternalServerError)
		base, hc := newPipeServer(t, api)
		m := newRecordingMetrics()
		reg := resilience.NewBreakers(resilience.BreakersConfig{Metrics: m})
		c := newClient(t, hc, m, func(cfg *provider.Config) { cfg.Breakers = reg })
		once := provider.Op{Name: "data.write"} // not idempotent: one attempt per call
		start := time.Now()

		for range 3 {
			_, err := c.Do(t.Context(), once, get(t, base))
			require.Error(t, err)
			assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		}
		st := reg.Status()
		require.Len(t, st, 1)
		assert.Equal(t, resilience.BreakerStatus{Name: "acme", State: resilience.BreakerOpen, ConsecutiveFailures: 3, OpenedAt: start.UTC(),
			LastFailure: "acme data.write: transient (http 500)"}, st[0])

		_, err := c.Do(t.Context(), once, get(t, base))
		require.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.Equal(t, 30*time.Second, ohx.RetryAfter(err))
		assert.EqualValues(t, 3, api.hits.Load(), "an open breaker sends nothing")

		time.Sleep(30*time.Second + time.Millisecond)
		assert.Equal(t, resilience.BreakerHalfOpen, c.Breaker().Status().State)
		api.set(http.StatusOK, nil, `{}`)
		_, err = c.Do(t.Context(), once, get(t, base))
		require.NoError(t, err)
		assert.Equal(t, resilience.BreakerHalfOpen, c.Breaker().Status().State, "one success is not enough")
		_, err = c.Do(t.Context(), once, get(t, base))
		require.NoError(t, err)
		assert.Equal(t, resilience.BreakerClosed, c.Breaker().Status().State)
		assert.Equal(t, []int{0, 2, 1, 0}, m.statesOf("acme"))
	})
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusBadGateway)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, func(cfg *provider.Config) {
			cfg.Breaker = resilience.BreakerSettings{FailureThreshold: 2, OpenTimeout: time.Minute, HalfOpenSuccesses: 1}
		})
		once := provider.Op{Name: "data.write"}
		for range 2 {
			_, err := c.Do(t.Context(), once, get(t, base))
			require.Error(t, err)
		}
		require.Equal(t, resilience.BreakerOpen, c.Breaker().Status().State)
		time.Sleep(time.Minute + time.Millisecond)
		_, err := c.Do(t.Context(), once, get(t, base))
		require.Error(t, err)
		st := c.Breaker().Status()
		assert.Equal(t, resilience.BreakerOpen, st.State)
		assert.Equal(t, epoch.Add(time.Minute+time.Millisecond), st.OpenedAt)
		api.set(http.StatusOK, nil, `{}`)
		time.Sleep(time.Minute + time.Millisecond)
		_, err = c.Do(t.Context(), once, get(t, base))
		require.NoError(t, err)
		assert.Equal(t, resilience.BreakerClosed, c.Breaker().Status().State, "closes after the configured single success")
	})
}

// withingsLike classifies a Withings-style envelope: HTTP 200 with a
// non-zero "status" in the body.
func withingsLike(op string, r *provider.Response) error {
	switch {
	case strings.Contains(string(r.Body), `"status":601`):
		return &ohx.ProviderError{Op: op, Kind: ohx.KindRateLimited, Code: "601", RetryAfter: 5 * time.Second}
	case strings.Contains(string(r.Body), `"status":0`):
		return nil
	}
	return provider.ClassifyHTTP(op, r)
}

func TestRateLimitAnswersDoNotOpenTheBreaker(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		wait   time.Duration
	}{
		{name: "http 429", status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {"2"}}, wait: 2 * time.Second},
		{name: "http 429 without retry-after", status: http.StatusTooManyRequests},
		{name: "withings 601 in http 200", status: http.StatusOK, body: `{"status":601,"body":{}}`, wait: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := newFakeAPI(tt.status)
				api.set(tt.status, tt.header, tt.body)
				base, hc := newPipeServer(t, api)
				m := newRecordingMetrics()
				c := newClient(t, hc, m, func(cfg *provider.Config) { cfg.Classify = withingsLike })
				for range 5 {
					_, err := c.Do(t.Context(), provider.Op{Name: "getmeas"}, get(t, base))
					require.ErrorIs(t, err, ohx.ErrRateLimited)
					assert.Equal(t, tt.wait, ohx.RetryAfter(err))
				}
				st := c.Breaker().Status()
				assert.Equal(t, resilience.BreakerClosed, st.State)
				assert.Zero(t, st.ConsecutiveFailures)
				assert.EqualValues(t, 5, api.hits.Load())
				assert.Equal(t, 5, m.rateLimited)
			})
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{name: "delay seconds", retryAfter: "7", want: 7 * time.Second},
		{name: "http date", retryAfter: epoch.Add(42 * time.Second).Format(http.TimeFormat), want: 42 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var hits atomic.Int32
				var at [2]time.Time
				base, hc := newPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					n := hits.Add(1)
					at[n-1] = time.Now()
					if n == 1 {
						w.Header().Set("Retry-After", tt.retryAfter)
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					_, _ = w.Write([]byte(`{"ok":true}`))
				}))
				c := newClient(t, hc, nil, nil)
				resp, err := c.Do(t.Context(), read, get(t, base))
				require.NoError(t, err)
				assert.JSONEq(t, `{"ok":true}`, string(resp.Body))
				require.EqualValues(t, 2, hits.Load())
				assert.Equal(t, tt.want, at[1].Sub(at[0]), "the retry waits exactly the Retry-After")
			})
		})
	}
}

func TestRateLimitPauseHoldsBackOtherCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusTooManyRequests)
		api.set(http.StatusTooManyRequests, http.Header{"Retry-After": {"20"}}, "")
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		_, err := c.Do(t.Context(), provider.Op{Name: "data.write"}, get(t, base))
		require.ErrorIs(t, err, ohx.ErrRateLimited)
		api.set(http.StatusOK, nil, "{}")
		start := time.Now()
		_, err = c.Do(t.Context(), provider.Op{Name: "other"}, get(t, base))
		require.NoError(t, err)
		assert.Equal(t, 20*time.Second, time.Since(start), "the app is paused until the Retry-After passed")
	})
}

func TestRateLimitLongerThanMaxWaitFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusTooManyRequests)
		api.set(http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}}, "")
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		start := time.Now()
		_, err := c.Do(t.Context(), read, get(t, base))
		require.ErrorIs(t, err, ohx.ErrRateLimited)
		assert.Equal(t, time.Hour, ohx.RetryAfter(err))
		assert.EqualValues(t, 1, api.hits.Load(), "no retry inside the call")
		_, err = c.Do(t.Context(), read, get(t, base))
		require.ErrorIs(t, err, ohx.ErrRateLimited)
		assert.Equal(t, time.Hour, ohx.RetryAfter(err), "the pause is reported without sending")
		assert.EqualValues(t, 1, api.hits.Load())
		assert.Zero(t, time.Since(start))
	})
}

func TestCancelledContextIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered := make(chan struct{})
		base, hc := newPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-r.Context().Done()
		}))
		m := newRecordingMetrics()
		c := newClient(t, hc, m, nil)
		for range 5 {
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-entered
				cancel()
			}()
			_, err := c.Do(ctx, read, get(t, base))
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, ohx.KindUnknown, ohx.KindOf(err))
		}
		st := c.Breaker().Status()
		assert.Equal(t, resilience.BreakerClosed, st.State)
		assert.Zero(t, st.ConsecutiveFailures)
		assert.Zero(t, m.rateLimited)
	})
}

func TestOnlyIdempotentOperationsAreRetried(t *testing.T) {
	tests := []struct {
		name     string
		op       provider.Op
		status   int
		wantHits int32
		wantKind ohx.ErrorKind
	}{
		{name: "idempotent read after 503", op: read, status: 503, wantHits: 4, wantKind: ohx.KindTransient},
		{name: "idempotent read after 429", op: read, status: 429, wantHits: 4, wantKind: ohx.KindRateLimited},
		{name: "non-idempotent write after 503", op: provider.Op{Name: "notify.subscribe"}, status: 503, wantHits: 1, wantKind: ohx.KindTransient},
		{name: "non-idempotent write after 429", op: provider.Op{Name: "notify.subscribe"}, status: 429, wantHits: 1, wantKind: ohx.KindRateLimited},
		{name: "idempotent read after 400 is permanent", op: read, status: 400, wantHits: 1, wantKind: ohx.KindPermanent},
		{name: "idempotent read after 404 is permanent", op: read, status: 404, wantHits: 1, wantKind: ohx.KindPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := newFakeAPI(tt.status)
				base, hc := newPipeServer(t, api)
				c := newClient(t, hc, nil, func(cfg *provider.Config) {
					cfg.Breaker.FailureThreshold = 100
				})
				req, err := http.NewRequest(http.MethodPost, base+"/measure", strings.NewReader("action=getmeas"))
				require.NoError(t, err)
				_, err = c.Do(t.Context(), tt.op, req)
				require.Error(t, err)
				assert.Equal(t, tt.wantKind, ohx.KindOf(err))
				assert.Equal(t, tt.wantHits, api.hits.Load())
			})
		})
	}
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusBadRequest)
		api.set(http.StatusBadRequest, nil, `{"error":"bad value 118003 for SECRET-TOKEN"}`)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		_, err := c.Do(t.Context(), read, get(t, base))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "SECRET")
		assert.NotContains(t, err.Error(), "118003")
		assert.Equal(t, "acme data.list: permanent (http 400)", err.Error())
	})
	// A network failure names the URL without its query.
	c := newClient(t, nil, nil, func(cfg *provider.Config) { cfg.Retry.MaxAttempts = 1 })
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/v1/data?access_token=SECRET-TOKEN", nil)
	require.NoError(t, err)
	_, err = c.Do(t.Context(), read, req)
	require.Error(t, err)
	assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
	assert.NotContains(t, err.Error(), "SECRET")
	assert.Contains(t, err.Error(), "http://127.0.0.1:1/v1/data")
}

func TestClientNeedsAProviderName(t *testing.T) {
	_, err := provider.NewClient(provider.Config{})
	require.Error(t, err)
	_, err = provider.NewClient(provider.Config{Provider: "x", Timeout: -1})
	require.Error(t, err)
	c := newClient(t, nil, nil, nil)
	_, err = c.Do(t.Context(), provider.Op{}, &http.Request{})
	require.Error(t, err)
	_, err = c.Do(t.Context(), read, nil)
	require.Error(t, err)
	assert.False(t, errors.Is(err, ohx.ErrTransient))
}
