package ohx_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
)

// unreachableDevices is a provider whose device listing cannot reach its
// API.
type unreachableDevices struct{ *ohxtest.Provider }

func (unreachableDevices) Devices(context.Context, ohx.Link) ([]ohx.Device, error) {
	return nil, &ohx.ProviderError{Provider: "fake", Op: "devices", Kind: ohx.KindTransient, Err: errRefused}
}

type refusedError struct{}

func (refusedError) Error() string { return "dial tcp 192.0.2.1:443: connect: connection refused" }

var errRefused error = refusedError{}

// A failed sync is logged at warn with its cause, device syncs included, so
// an operator sees why data stopped without waiting for the job to die.
func TestFailedSyncsAreLoggedWithTheirCause(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	f := newFixture(t, 10, &ohxtest.Provider{})
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{unreachableDevices{f.provider}}, Links: f.store, Cursors: f.store,
		Transformer: keyTransformer{}, Publisher: f.pub, Logger: zap.New(core),
	})
	require.NoError(t, err)
	_, err = e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerDeviceSync})
	require.ErrorIs(t, err, errRefused)

	failed := logs.FilterMessage("device sync failed").All()
	require.Len(t, failed, 1)
	assert.Equal(t, zapcore.WarnLevel, failed[0].Level)
	ctx := failed[0].ContextMap()
	assert.Equal(t, "transient", ctx["kind"])
	assert.Equal(t, "link-1", ctx["link_id"])
	assert.Contains(t, ctx["error"], "fake devices: transient: dial tcp 192.0.2.1:443: connect: connection refused")
}
