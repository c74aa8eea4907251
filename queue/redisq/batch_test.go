package redisq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
)

// roundTrips counts what a client sends to Redis: single commands and
// pipelines (each one round trip).
type roundTrips struct {
	mu        sync.Mutex
	commands  int
	pipelines int
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		r.commands++
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		r.pipelines++
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (r *roundTrips) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands, r.pipelines = 0, 0
}

func (r *roundTrips) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commands + r.pipelines
}

var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func push(link string, i int) ohx.Job {
	w := ohx.Window{Start: t0.Add(time.Duration(i) * time.Minute), End: t0.Add(time.Duration(i+1) * time.Minute)}
	return ohx.Job{LinkID: link, DataTypes: []ohx.DataType{ohx.BodyWeight}, Trigger: ohx.TriggerPush, Window: &w}
}

// The steady state of a webhook burst: every job of a batch merges into a
// pending one, in two round trips for the whole batch (one read, one
// compare-and-set), whatever the batch size.
func TestBatchMergingIntoPendingJobsCostsTwoRoundTrips(t *testing.T) {
	rdb := testRedis(t)
	opts := rdb.(*redis.Client).Options()
	counted := redis.NewClient(opts)
	t.Cleanup(func() { _ = counted.Close() })
	rt := &roundTrips{}
	counted.AddHook(rt)
	q := newQueue(t, counted, redisq.Config{Debounce: time.Minute})

	const links = 8
	first := map[string]string{}
	for l := range links {
		link := fmt.Sprintf("link-%d", l)
		id, err := q.Enqueue(t.Context(), push(link, 0), ohx.EnqueueOptions{Delay: time.Minute})
		require.NoError(t, err)
		first[link] = id
	}
	// The first batch may load the scripts into Redis (one more round trip
	// each): it is not counted.
	for n, size := range []int{8, 8, 64, 256} {
		var reqs []queue.Request
		for i := range size {
			reqs = append(reqs, queue.Request{Job: push(fmt.Sprintf("link-%d", i%links), 1+i), Options: ohx.EnqueueOptions{Delay: time.Minute}})
		}
		rt.reset()
		res := q.EnqueueBatch(t.Context(), reqs)
		for i, r := range res {
			require.NoError(t, r.Err)
			require.Equal(t, first[reqs[i].Job.LinkID], r.ID, "merged into the pending job")
		}
		if n > 0 {
			assert.Equal(t, 2, rt.total(), "a batch of %d costs two round trips", size)
		}
	}
	for l := range links {
		ji, err := q.Job(t.Context(), first[fmt.Sprintf("link-%d", l)])
		require.NoError(t, err)
		require.NotNil(t, ji.Job.Window)
		assert.Equal(t, t0, ji.Job.Window.Start)
		assert.Equal(t, t0.Add(time.Duration(256-links+l+2)*time.Minute), ji.Job.Window.End, "every window merged")
	}
}

// A batch against a Redis that is gone fails every request, and fails fast.
func TestBatchReportsRedisFailures(t *testing.T) {
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := redisq.New(rdb, redisq.Config{Namespace: "ohxtest-gone"})
	require.NoError(t, err)
	res := q.EnqueueBatch(t.Context(), []queue.Request{
		{Job: push("link-a", 0)}, {Job: push("link-a", 1)}, {Job: push("link-b", 0)},
		{Job: push("link-c", 0), Options: ohx.EnqueueOptions{NoCoalesce: true}},
	})
	require.Len(t, res, 4)
	for _, r := range res {
		assert.Error(t, r.Err, "nothing is acknowledged without Redis")
		assert.Empty(t, r.ID)
	}
}

// redisq reads the state of a pending job's task from asynq's task hash in
// its batch script; this guards the layout it relies on against asynq
// upgrades: the field agrees with what asynq's inspector reports.
func TestTaskStateKeyMatchesAsynq(t *testing.T) {
	rdb := testRedis(t)
	ns := namespace(t, rdb)
	q := newQueue(t, rdb, redisq.Config{Namespace: ns, PollInterval: 50 * time.Millisecond})
	ins := asynq.NewInspectorFromRedisClient(rdb)
	id, err := q.Enqueue(t.Context(), push("link-s", 0), ohx.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	qname := ns + ":p1"
	state := func() string { return rdb.HGet(t.Context(), "asynq:{"+qname+"}:t:"+id, "state").Val() }
	info, err := ins.GetTaskInfo(qname, id)
	require.NoError(t, err)
	assert.Equal(t, info.State.String(), state())
	assert.Equal(t, "scheduled", state())

	now, err := q.Enqueue(t.Context(), ohx.Job{LinkID: "link-s2", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- q.Run(ctx, ohx.HandlerFunc(func(context.Context, ohx.Job) error { return nil }))
	}()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		info, err := ins.GetTaskInfo(ns+":p3", now)
		return err == nil && info.State == asynq.TaskStateCompleted
	}, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, "completed", rdb.HGet(t.Context(), "asynq:{"+ns+":p3}:t:"+now, "state").Val())
}

// Between the moment Cancel marks a pending job's record and the moment it
// clears the job from its coalesce hash, an enqueue may still find the job
// named pending: neither the batch's fast path nor the one-by-one path
// merges into it, and the job that takes the work is listed for its link.
func TestEnqueueNeverMergesIntoACancelledRecord(t *testing.T) {
	rdb := testRedis(t)
	ns := namespace(t, rdb)
	q := newQueue(t, rdb, redisq.Config{Namespace: ns, Debounce: time.Minute})
	ctx := t.Context()
	first, err := q.Enqueue(ctx, push("link-x", 0), ohx.EnqueueOptions{Delay: time.Minute})
	require.NoError(t, err)
	// What Cancel writes first: the flag in the record, the hash untouched.
	key := ns + ":job:" + first
	var rec map[string]any
	raw, err := rdb.Get(ctx, key).Bytes()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &rec))
	rec["cancelled"] = true
	raw, err = json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, rdb.Set(ctx, key, raw, redis.KeepTTL).Err())

	res := q.EnqueueBatch(ctx, []queue.Request{
		{Job: push("link-x", 1), Options: ohx.EnqueueOptions{Delay: time.Minute}},
		{Job: push("link-x", 2), Options: ohx.EnqueueOptions{Delay: time.Minute}},
	})
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	next := res[0].ID
	assert.Equal(t, next, res[1].ID)
	assert.NotEqual(t, first, next, "the batch does not merge into the cancelled job")
	again, err := q.Enqueue(ctx, push("link-x", 3), ohx.EnqueueOptions{Delay: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, next, again, "later enqueues merge into the new job")

	ji, err := q.Job(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, ohx.Window{Start: t0.Add(time.Minute), End: t0.Add(4 * time.Minute)}, *ji.Job.Window,
		"the new job holds every window enqueued after the cancel")
	jobs, err := q.LinkJobs(ctx, "link-x")
	require.NoError(t, err)
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.Job.ID)
	}
	assert.ElementsMatch(t, []string{first, next}, ids)
}
