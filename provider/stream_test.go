package provider_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

func TestStreamHandsTheBodyToTheConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusOK)
		api.set(http.StatusOK, nil, `{"items":[1,2,3]}`)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		var got string
		var status int
		err := c.Stream(t.Context(), read, get(t, base), func(st int, body io.Reader) error {
			b, err := io.ReadAll(body)
			got, status = string(b), st
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, `{"items":[1,2,3]}`, got)
		assert.Equal(t, http.StatusOK, status)
	})
}

// TestStreamConsumerErrorIsNotRetried: a page the consumer refuses ends the
// call with the consumer's error, once, and the breaker does not count it.
func TestStreamConsumerErrorIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusOK)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		bad := errors.New("not the expected JSON")
		err := c.Stream(t.Context(), read, get(t, base), func(int, io.Reader) error { return bad })
		require.ErrorIs(t, err, bad)
		assert.EqualValues(t, 1, api.hits.Load())
		assert.EqualValues(t, 0, c.Breaker().Status().ConsecutiveFailures)
	})
}

// TestStreamErrorAnswersAreClassified: a non-2xx answer never reaches the
// consumer and is classified as by Do (a 503 retried, then transient).
func TestStreamErrorAnswersAreClassified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusServiceUnavailable)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		called := false
		err := c.Stream(t.Context(), read, get(t, base), func(int, io.Reader) error { called = true; return nil })
		require.Error(t, err)
		assert.False(t, called)
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.Greater(t, api.hits.Load(), int32(1), "an idempotent read is retried")
	})
}

func TestStreamOversizedBodyIsPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusOK)
		api.set(http.StatusOK, nil, strings.Repeat("x", 1025))
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.MaxBodyBytes = 1024 })
		var n int
		err := c.Stream(t.Context(), read, get(t, base), func(_ int, body io.Reader) error {
			b, err := io.ReadAll(body)
			n = len(b)
			return err
		})
		var pe *ohx.ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, ohx.KindPermanent, pe.Kind)
		assert.Equal(t, "body-too-large", pe.Code)
		assert.Equal(t, 1024, n, "no byte past the bound is handed out")

		api.set(http.StatusOK, nil, strings.Repeat("x", 1024))
		err = c.Stream(t.Context(), read, get(t, base), func(_ int, body io.Reader) error {
			b, err := io.ReadAll(body)
			n = len(b)
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, 1024, n)
	})
}

// brokenBody answers 200, writes half a page and breaks the connection on
// the first hit, then answers whole.
type brokenBody struct{ hits atomic.Int32 }

func (b *brokenBody) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if b.hits.Add(1) == 1 {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"items":[1,`))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	_, _ = w.Write([]byte(`{"items":[1,2]}`))
}

// TestStreamRetriesABrokenBody: a body cut off mid-way is a transient
// failure; the read is sent again and the consumer starts over.
func TestStreamRetriesABrokenBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &brokenBody{}
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		var calls []string
		err := c.Stream(t.Context(), read, get(t, base), func(_ int, body io.Reader) error {
			b, err := io.ReadAll(body)
			calls = append(calls, string(b))
			return err
		})
		require.NoError(t, err)
		assert.EqualValues(t, 2, api.hits.Load())
		require.Len(t, calls, 2)
		assert.Equal(t, `{"items":[1,`, calls[0])
		assert.Equal(t, `{"items":[1,2]}`, calls[1])
	})
}
