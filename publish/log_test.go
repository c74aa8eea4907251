package publish_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/resilience"
)

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

// Every failed request the destination's breaker counts is logged at warn
// with the destination, operation, kind, status and cause, without the
// server's free text or the query's identifiers.
func TestCountedFailuresAreLoggedWithoutSecrets(t *testing.T) {
	fast := resilience.RetrySettings{MaxAttempts: 2, BaseDelay: 1, MaxDelay: 1}

	t.Run("a 503 whose OperationOutcome echoes a value", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient",` +
				`"diagnostics":"value 187.25 of SECRET-PATIENT","expression":["Bundle.entry[0]"]}]}`))
		}))
		defer srv.Close()
		core, logs := observer.New(zapcore.DebugLevel)
		p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, Name: "ehr", HTTPClient: srv.Client(), Retry: fast,
			Logger: zap.New(core), SkipVersionCheck: true})
		require.NoError(t, err)
		_, err = p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.ErrorIs(t, err, ohx.ErrTransient)

		failed := logs.FilterMessage("call failed").All()
		require.Len(t, failed, 2, "each attempt counts")
		assert.Equal(t, zapcore.WarnLevel, failed[0].Level)
		assert.Equal(t, map[string]any{"breaker": "fhir:ehr", "destination": "ehr", "op": "transaction", "kind": "transient",
			"status": int64(503), "cause": "error transient at Bundle.entry[0]"}, failed[0].ContextMap())
		assert.NotContains(t, logText(logs)+err.Error(), "SECRET")
		assert.NotContains(t, logText(logs)+err.Error(), "187.25")
	})

	t.Run("a refused search", func(t *testing.T) {
		var lc net.ListenConfig
		ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base := "http://" + ln.Addr().String() + "/fhir"
		require.NoError(t, ln.Close()) // nothing listens there any more

		core, logs := observer.New(zapcore.DebugLevel)
		p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: base, Name: "ehr", Retry: fast, Logger: zap.New(core)})
		require.NoError(t, err)
		_, err = p.Search(t.Context(), "Observation", url.Values{"identifier": {"https://ohx.example/sample|SECRET-ID"}})
		require.ErrorIs(t, err, ohx.ErrTransient)
		assert.Contains(t, err.Error(), "connection refused")

		failed := logs.FilterMessage("call failed").All()
		require.Len(t, failed, 2)
		ctx := failed[1].ContextMap()
		assert.Equal(t, "search", ctx["op"])
		assert.Equal(t, "transient", ctx["kind"])
		assert.Equal(t, int64(0), ctx["status"], "no answer")
		assert.Contains(t, ctx["cause"], "GET "+base+"/Observation: dial tcp")
		assert.Contains(t, ctx["cause"], "connection refused")
		assert.NotContains(t, logText(logs)+err.Error(), "SECRET-ID", "no query in logs or errors")
	})
}
