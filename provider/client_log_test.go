package provider_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// leakyTransport fails every request with an error that quotes the whole
// request URL and a response body, as a careless proxy or middleware does.
type leakyTransport struct{}

func (leakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused %s\nbody: SECRET-BODY: %w", req.URL, errors.New("connection refused"))
}

func logText(logs *observer.ObservedLogs) string {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var out bytes.Buffer
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			panic(err)
		}
		out.Write(buf.Bytes())
		buf.Free()
	}
	return out.String()
}

// Every failure the breaker counts is logged at warn with the provider,
// operation, kind, status and cause; a token in the URL's query and a
// secret in a response body never reach the log or the error.
func TestCountedFailuresAreLoggedWithoutSecrets(t *testing.T) {
	t.Run("server error with a secret in its body", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := newFakeAPI(http.StatusInternalServerError)
			api.set(http.StatusInternalServerError, nil, `{"error":"boom","echo":"SECRET-BODY"}`)
			base, hc := newPipeServer(t, api)
			core, logs := observer.New(zapcore.DebugLevel)
			reg := resilience.NewBreakers(resilience.BreakersConfig{Logger: zap.New(core)})
			c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.Breakers = reg })
			_, err := c.Do(t.Context(), provider.Op{Name: "data.list"}, get(t, base))
			require.Error(t, err)

			failed := logs.FilterMessage("call failed").All()
			require.Len(t, failed, 1)
			assert.Equal(t, zapcore.WarnLevel, failed[0].Level)
			assert.Equal(t, map[string]any{"breaker": "acme", "provider": "acme", "op": "data.list", "kind": "transient",
				"status": int64(500), "cause": "http 500"}, failed[0].ContextMap())
			all := logText(logs) + err.Error()
			assert.NotContains(t, all, "SECRET-TOKEN")
			assert.NotContains(t, all, "SECRET-BODY")
		})
	})
	t.Run("transport error quoting the URL and a body", func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		reg := resilience.NewBreakers(resilience.BreakersConfig{Logger: zap.New(core)})
		c := newClient(t, &http.Client{Transport: leakyTransport{}}, nil, func(cfg *provider.Config) {
			cfg.Breakers = reg
			cfg.Retry = resilience.RetrySettings{MaxAttempts: 1}
		})
		_, err := c.Do(t.Context(), read, get(t, "https://api.acme.example"))
		require.Error(t, err)
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))

		failed := logs.FilterMessage("call failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, "GET https://api.acme.example/v1/data: proxy refused https://api.acme.example/v1/data",
			failed[0].ContextMap()["cause"], "the cause is the transport's, scrubbed: no query, no second line")
		assert.NotContains(t, logText(logs)+err.Error(), "SECRET")
	})
}
