package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/validate"

	"github.com/openhealthexchange/ohx"
)

func TestRunPublishesIdempotently(t *testing.T) {
	// The R5 schema compiles once per process (slow under -race on a busy
	// machine); the bound below is for the program's run.
	require.NoError(t, validate.Ready())
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-hours", "2"}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 4, out.String())
	initial, _ := strings.CutPrefix(lines[0], "initial sync: ")
	again, _ := strings.CutPrefix(lines[1], "reconciliation sync: ")
	assert.Equal(t, initial, again, "the same window publishes the same resources")
	assert.Contains(t, initial, " 0 rejected")
	var obs string
	for _, l := range lines {
		if strings.Contains(l, "ehr.fhir.Observation") {
			obs = strings.Join(strings.Fields(l), " ")
		}
	}
	// Every Observation was sent twice and is held once: ids are stable.
	var sent, kept int
	_, err := fmtSscanf(obs, &sent, &kept)
	require.NoError(t, err, obs)
	assert.Positive(t, kept)
	assert.Equal(t, 2*kept, sent)
}

type failingBus struct{ err error }

func (b failingBus) Send(context.Context, string, string, []byte) error { return b.err }

func TestBusPublisher(t *testing.T) {
	valid := ohx.Resource{Type: "Device", ID: "d1", JSON: json.RawMessage(`{"resourceType":"Device","id":"d1","status":"active"}`)}
	invalid := ohx.Resource{Type: "Observation", ID: "o1", JSON: json.RawMessage(`{"resourceType":"Observation","id":"o1","status":"final"}`)}

	t.Run("an invalid resource is rejected and not sent; the rest is", func(t *testing.T) {
		bus := newMemoryBus()
		p := &BusPublisher{Bus: bus, TopicPrefix: "t."}
		res, err := p.Publish(t.Context(), []ohx.Resource{invalid, valid})
		require.NoError(t, err)
		assert.Equal(t, []string{"Device/d1"}, res.Written)
		require.Len(t, res.Rejected, 1)
		assert.Equal(t, "Observation/o1", res.Rejected[0].Key)
		assert.Equal(t, 1, bus.sent["t.Device"])
		assert.Zero(t, bus.sent["t.Observation"])
	})
	t.Run("a bus failure fails the batch so the engine retries it", func(t *testing.T) {
		boom := errors.New("broker unavailable")
		p := &BusPublisher{Bus: failingBus{err: boom}}
		res, err := p.Publish(t.Context(), []ohx.Resource{valid})
		require.ErrorIs(t, err, boom)
		assert.Empty(t, res.Written)
	})
}

// fmtSscanf reads "<topic> <sent> messages sent, <kept> keys after compaction".
func fmtSscanf(line string, sent, kept *int) (int, error) {
	var topic string
	return fmt.Sscanf(line, "%s %d messages sent, %d keys after compaction", &topic, sent, kept)
}
