package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

// redisServer is a redis-server of the test's own, on a free loopback port,
// persisting to an append-only file so its data survives a restart.
type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	r := &redisServer{port: port, dir: t.TempDir()}
	r.start(t)
	t.Cleanup(func() { r.kill() })
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--protected-mode", "no", "--loglevel", "warning", "--logfile", filepath.Join(r.dir, "redis.log"))
	require.NoError(t, r.cmd.Start())
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			cl := redis.NewClient(&redis.Options{Addr: r.addr()})
			err = cl.Ping(context.Background()).Err()
			_ = cl.Close()
			if err == nil {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "redis-server did not start: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops redis-server with SIGKILL: with appendfsync always, every
// acknowledged write is on disk.
func (r *redisServer) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func redisQueue(t *testing.T, addr string) (*redisq.Queue, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 2, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := redisq.New(rdb, redisq.Config{
		Namespace: "e2e", Concurrency: 2, Debounce: -1, Lease: 2 * time.Second, PollInterval: 100 * time.Millisecond,
		Retry: queue.Retry{MaxAttempts: 20, Base: 200 * time.Millisecond, Max: time.Second},
	})
	require.NoError(t, err)
	return q, rdb
}

func TestRedisRestartDuringSync(t *testing.T) {
	want := baseline(t, options{}, syncTypes...)

	r := startRedis(t)
	q, _ := redisQueue(t, r.addr())
	e := newEnv(t, options{queue: q})
	// Slow FHIR answers so the sync is in full flight when Redis goes away.
	e.fhir.SetLatency(40 * time.Millisecond)
	e.runWorkers(t)
	e.link(t, syncTypes...)

	waitFor(t, 30*time.Second, func() bool { return e.fhir.RequestCount() >= 3 }, "the sync started")
	r.kill()
	time.Sleep(time.Second)
	r.start(t)

	e.waitIdle(t, 3*time.Minute)
	stats, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Zero(t, stats.Dead(), "no job lost to the restart")
	requireSameResources(t, want, snapshotOf(e.fhir))
}

// TestWorkerKilledMidJob starts a worker in a child process (this test binary,
// re-executed), kills it with SIGKILL while it runs the initial sync, and lets
// a worker of this process take the orphaned job over.
func TestWorkerKilledMidJob(t *testing.T) {
	want := baseline(t, options{}, syncTypes...)

	r := startRedis(t)
	q, _ := redisQueue(t, r.addr())
	e := newEnv(t, options{queue: q})
	e.fhir.SetLatency(40 * time.Millisecond)
	e.saveLink(t, syncTypes...)
	var jobIDs []string
	for _, tr := range []ohx.Trigger{ohx.TriggerDeviceSync, ohx.TriggerInitial} {
		id, err := q.Enqueue(t.Context(), ohx.Job{LinkID: linkID, Trigger: tr}, ohx.EnqueueOptions{})
		require.NoError(t, err)
		jobIDs = append(jobIDs, id)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestHelperWorkerProcess$", "-test.v")
	child.Env = append(os.Environ(), "OHX_E2E_WORKER=1", "OHX_E2E_REDIS="+r.addr(),
		"OHX_E2E_FITBIT="+e.fake.URL(), "OHX_E2E_FHIR="+e.fhirURL)
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	require.NoError(t, err)
	child.Stdout, child.Stderr = logf, logf
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	waitFor(t, 3*time.Minute, func() bool { return e.fhir.RequestCount() >= 3 }, "the child runs the sync")
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	partial := e.fhir.Count("Observation")
	require.Less(t, partial, countType(want, "Observation"), "killed half way")

	e.runWorkers(t)
	e.waitIdle(t, 3*time.Minute)
	for _, id := range jobIDs {
		info, err := q.Job(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, queue.StateDone, info.State, "the orphaned job ran again here: %s", info.LastError)
	}
	stats, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Zero(t, stats.Dead())
	requireSameResources(t, want, snapshotOf(e.fhir))
}

// TestHelperWorkerProcess is the child of TestWorkerKilledMidJob: a worker
// process with its own store, linked to the same user, consuming the shared
// Redis queue until it is killed.
func TestHelperWorkerProcess(t *testing.T) {
	if os.Getenv("OHX_E2E_WORKER") != "1" {
		t.Skip("runs only as the child of TestWorkerKilledMidJob")
	}
	q, _ := redisQueue(t, os.Getenv("OHX_E2E_REDIS"))
	e := newEnv(t, options{queue: q, remote: &remote{fitbitURL: os.Getenv("OHX_E2E_FITBIT"), fhirURL: os.Getenv("OHX_E2E_FHIR")}})
	e.saveLink(t, syncTypes...)
	fmt.Println("worker ready")
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	_ = e.srv.RunWorkers(ctx)
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting: %s", what)
		time.Sleep(10 * time.Millisecond)
	}
}

func countType(s snapshot, typ string) int {
	n := 0
	for k := range s {
		if len(k) > len(typ) && k[:len(typ)+1] == typ+"/" {
			n++
		}
	}
	return n
}
