package provider_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
)

// pipeListener serves connections made by its Dial over net.Pipe, so that an
// httptest.Server and its clients can run inside a synctest bubble: real
// HTTP, no sockets.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "provider.test" }

// newPipeServer starts h on an in-memory network and returns its base URL
// and a client dialing it. Both are closed when the test ends.
func newPipeServer(t *testing.T, h http.Handler) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	l := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv.Listener = l
	srv.Start()
	tr := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL, &http.Client{Transport: tr}
}

// recordingMetrics records breaker states and counts.
type recordingMetrics struct {
	ohx.NopMetrics
	mu          sync.Mutex
	states      map[string][]int
	rateLimited int
}

func newRecordingMetrics() *recordingMetrics {
	return &recordingMetrics{states: map[string][]int{}}
}

func (m *recordingMetrics) BreakerState(name string, state int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[name] = append(m.states[name], state)
}

func (m *recordingMetrics) RateLimited(string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rateLimited++
}

func (m *recordingMetrics) statesOf(name string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.states[name]...)
}

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
