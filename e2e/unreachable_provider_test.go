package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// TestUnreachableProviderSyncNamesTheCause: when Withings' API refuses
// connections, the breaker opens and the sync fails; its error and its
// warn lines must say why (connection refused, and where), not only
// "circuit open", so an operator can tell why data stopped.
func TestUnreachableProviderSyncNamesTheCause(t *testing.T) {
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close()) // the API host refuses connections from now on

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	st := store.NewMemory()
	fake := withingstest.New(withingstest.Config{}) // issues the link's token only
	breakers := resilience.NewBreakers(resilience.BreakersConfig{Logger: log})
	p, err := withings.New(withings.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), APIBaseURL: dead, AuthURL: dead,
		Common: provider.Common{
			Tokens: st, Locker: st, Breakers: breakers, AppLimit: provider.NoLimit(),
			Retry:  resilience.RetrySettings{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
			Logger: log,
		},
	})
	require.NoError(t, err)
	fhir := fhirtest.New(fhirtestOptions()...)
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: fhirtest.InMemoryURL, HTTPClient: fhir.Client(), Validate: validator(),
		Breakers: breakers, Logger: log})
	require.NoError(t, err)
	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: "e2e"})
	require.NoError(t, err)
	engine, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: tr,
		Publisher: pub, Logger: log})
	require.NoError(t, err)
	link := ohx.Link{ID: "link-dead-1", Provider: withings.Name, ExternalUserID: "4242", Patient: "Patient/w-1",
		TimeZone: "Europe/Paris", Status: ohx.LinkActive, DataTypes: []ohx.DataType{ohx.BodyWeight},
		Scopes: []string{withings.ScopeInfo, withings.ScopeMetrics}}
	fake.AddUser(withingstest.User{ID: 4242, TimeZone: "Europe/Paris"})
	require.NoError(t, st.SaveToken(t.Context(), link.ID, fake.IssueToken(4242, link.Scopes...)))
	require.NoError(t, st.SaveLink(t.Context(), link))

	_, err = engine.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial})
	require.ErrorIs(t, err, ohx.ErrCircuitOpen, "three refused attempts open the breaker; the fourth is refused by it")
	msg := err.Error()
	assert.Contains(t, msg, "breaker withings: ohx: circuit open after 3 failures; last: withings getmeas: transient: POST "+dead+"/measure: dial tcp")
	assert.Contains(t, msg, "connection refused")
	assert.True(t, ohx.Retryable(err), "the queue retries the job after the open period")

	failed := logs.FilterMessage("sync failed").All()
	require.Len(t, failed, 1)
	assert.Equal(t, zapcore.WarnLevel, failed[0].Level)
	assert.Contains(t, failed[0].ContextMap()["error"], "connection refused", "the failed sync's log line names the cause")

	counted := logs.FilterMessage("call failed").All()
	require.Len(t, counted, 3, "each refused attempt is logged at warn")
	for _, e := range counted {
		assert.Equal(t, zapcore.WarnLevel, e.Level)
		ctx := e.ContextMap()
		assert.Equal(t, "withings", ctx["provider"])
		assert.Equal(t, "getmeas", ctx["op"])
		assert.Equal(t, "transient", ctx["kind"])
		assert.Equal(t, int64(0), ctx["status"])
		assert.True(t, strings.HasSuffix(ctx["cause"].(string), "connection refused"), ctx["cause"])
	}
	opened := logs.FilterMessage("breaker opened").All()
	require.Len(t, opened, 1)
	assert.Contains(t, opened[0].ContextMap()["last_failure"], "connection refused")
}
