package redisq_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

// The child worker: run by TestKilledWorkerJobRunsElsewhere as a separate
// process. It takes a job, says so in Redis, and hangs until it is killed.
func TestWorkerChild(t *testing.T) {
	ns := os.Getenv("OHX_REDISQ_CHILD_NAMESPACE")
	if ns == "" {
		t.Skip("only run as a child process")
	}
	rdb := testRedis(t)
	q, err := redisq.New(rdb, redisq.Config{Namespace: ns, Lease: time.Second, PollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	_ = q.Run(context.Background(), ohx.HandlerFunc(func(ctx context.Context, j ohx.Job) error {
		rdb.Set(ctx, ns+":test:started", j.ID, time.Hour)
		select {} // hang: the parent kills this process
	}))
}

func TestKilledWorkerJobRunsElsewhere(t *testing.T) {
	rdb := testRedis(t)
	ns := namespace(t, rdb)
	q := newQueue(t, rdb, redisq.Config{Namespace: ns, Lease: time.Second, PollInterval: 50 * time.Millisecond})
	id, err := q.Enqueue(t.Context(), ohx.Job{LinkID: "link-k", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	require.NoError(t, err)

	child := exec.Command(os.Args[0], "-test.run=^TestWorkerChild$", "-test.count=1")
	child.Env = append(os.Environ(), "OHX_REDISQ_CHILD_NAMESPACE="+ns)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	var started string
	require.Eventually(t, func() bool {
		started, _ = rdb.Get(t.Context(), ns+":test:started").Result()
		return started != ""
	}, 30*time.Second, 10*time.Millisecond, "the child took the job")
	require.Equal(t, id, started)
	ji, err := q.Job(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, ji.State)

	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()

	var mu sync.Mutex
	var runs []ohx.Job
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- q.Run(ctx, ohx.HandlerFunc(func(_ context.Context, j ohx.Job) error {
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, j)
			return nil
		}))
	}()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })

	// About 1–1.5 leases after the kill; the deadline is generous.
	require.Eventually(t, func() bool {
		ji, err := q.Job(t.Context(), id)
		return err == nil && ji.State == queue.StateDone
	}, 30*time.Second, 20*time.Millisecond, "the job completes on this worker")
	mu.Lock()
	require.Len(t, runs, 1)
	assert.Equal(t, "link-k", runs[0].LinkID)
	assert.Equal(t, 1, runs[0].Attempt, "the run lost with the killed worker counts as an attempt")
	mu.Unlock()

	if os.Getenv("OHX_TEST_SLOW") == "" {
		return
	}
	// asynq recovers the original task itself after its fixed lease (30 s +
	// 30 s grace, checked once a minute): the old id must then do nothing.
	asynqQueue := ns + ":p3"
	ins := asynq.NewInspectorFromRedisClient(rdb)
	require.Eventually(t, func() bool {
		info, err := ins.GetTaskInfo(asynqQueue, id)
		return (err == nil && info.State == asynq.TaskStateCompleted) || errors.Is(err, asynq.ErrTaskNotFound)
	}, 4*time.Minute, time.Second, "asynq recovered and finished the orphaned task")
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, runs, 1, "the superseded task did not run the job again")
}
