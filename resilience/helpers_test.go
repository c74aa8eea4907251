package resilience_test

import (
	"bytes"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/openhealthexchange/ohx"
)

// recordingMetrics remembers the breaker states reported per breaker.
type recordingMetrics struct {
	ohx.NopMetrics
	mu     sync.Mutex
	states map[string][]int
}

func newRecordingMetrics() *recordingMetrics {
	return &recordingMetrics{states: map[string][]int{}}
}

func (m *recordingMetrics) BreakerState(name string, state int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[name] = append(m.states[name], state)
}

func (m *recordingMetrics) statesOf(name string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.states[name]...)
}

// epoch is the start of every synctest bubble's clock.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// observed returns a logger that records every entry at debug and above,
// and the recorded entries.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

// jsonLines renders recorded entries as the JSON a production logger
// writes, to search them for what must never appear.
func jsonLines(logs *observer.ObservedLogs) string {
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
