package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// syncTypes are the types the FHIR fault tests sync: heart rate (hourly, 24
// Observations a day), steps (one per minute interval) and SpO2 individually,
// plus the device sync. Together they make dozens of bundles.
var syncTypes = []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.SpO2}

func TestBaselineIsComplete(t *testing.T) {
	want := baseline(t, options{}, syncTypes...)
	types := map[string]int{}
	for k := range want {
		types[k[:len(k)-37]]++ // "Type/" + 36-character uuid
	}
	assert.Positive(t, types["Observation"])
	assert.Positive(t, types["Device"])
	assert.Positive(t, types["Provenance"])
	for k, s := range want {
		if !strings.HasPrefix(k, "Device") {
			assert.Equal(t, 1, s.version, "%s written once in a run without faults", k)
		}
	}
	t.Logf("baseline: %d resources %v", len(want), types)
}

func TestFHIRUnavailableThenRecovers(t *testing.T) {
	want := baseline(t, options{}, syncTypes...)

	e := newEnv(t, options{})
	// 503 for the next 40 requests: the publisher's in-call retries give up
	// after Retry.MaxElapsed, so jobs fail and the queue retries them too.
	e.fhir.FailNext(40, http.StatusServiceUnavailable, 0)
	e.runWorkers(t)
	e.link(t, syncTypes...)
	e.waitIdle(t, 3*time.Minute)

	extra := requireSameResources(t, want, snapshotOf(e.fhir))
	assert.Zero(t, extra, "a 503 applies nothing, so no resource is written twice")
	failed := 0
	for _, r := range e.fhir.Requests() {
		if r.Status == http.StatusServiceUnavailable {
			failed++
		}
	}
	assert.Equal(t, 40, failed, "every injected 503 was met")
}

func TestFHIRUnavailableLongerThanRetryTimeRetriesTheJob(t *testing.T) {
	want := baseline(t, options{}, syncTypes...)

	e := newEnv(t, options{fhirRetryTime: 50 * time.Millisecond})
	// Each job attempt meets at least one 503 until they are used up; the
	// queue allows 10 runs per job, so even one job
	// meeting every 503 survives.
	e.fhir.FailNext(6, http.StatusServiceUnavailable, 0)
	e.runWorkers(t)
	e.link(t, syncTypes...)
	st := e.waitIdle(t, 3*time.Minute)

	if !assert.Zero(t, st.Dead(), "no job is dead: the outage was transient") {
		dead, err := e.queue.(*queue.Memory).DeadLetters(t.Context())
		require.NoError(t, err)
		for _, d := range dead {
			t.Logf("dead: %s attempt %d: %s", d.Job.Trigger, d.Job.Attempt, d.LastError)
		}
	}
	assert.Zero(t, requireSameResources(t, want, snapshotOf(e.fhir)))
}

// dropAfterApply lets the FHIR server apply a request and then closes the
// connection without an answer: the transaction happened, the client never
// hears of it. The first n POSTs after armed is set are dropped so.
type dropAfterApply struct {
	next    http.Handler
	remain  atomic.Int64
	dropped atomic.Int64
}

func (d *dropAfterApply) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || d.remain.Add(-1) < 0 {
		d.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	d.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		d.dropped.Add(1)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	// Half an answer, then the connection goes away.
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 100000\r\n\r\n{\"resourceType\":")
	_ = buf.Flush()
	_ = conn.Close()
}

func TestFHIRDropsConnectionsMidTransaction(t *testing.T) {
	want := baseline(t, options{}, syncTypes...)

	front := &dropAfterApply{}
	front.remain.Store(12)
	e := newEnv(t, options{fhirFront: func(h http.Handler) http.Handler { front.next = h; return front }})
	e.runWorkers(t)
	e.link(t, syncTypes...)
	e.waitIdle(t, 3*time.Minute)

	got := snapshotOf(e.fhir)
	extra := requireSameResources(t, want, got)
	require.Equal(t, int64(12), front.dropped.Load(), "twelve applied transactions lost their answer")
	assert.Positive(t, extra, "the unacknowledged bundles were sent again")
	for k, s := range got {
		// Each unanswered transaction is sent again at most once more per
		// drop: a resource is rewritten (same content, next version) only
		// because an answer was lost, never duplicated under another id.
		assert.LessOrEqual(t, s.version-want[k].version, int(front.dropped.Load()), "%s", k)
	}
	t.Logf("resources %d, extra writes by retried bundles %d", len(got), extra)
}
