package redisq

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// Batched enqueue (queue.BatchEnqueuer).
//
// A batch first merges its requests per coalesce key in memory (as
// one-by-one enqueues would merge them into one pending job). Then, for all
// keys at once, one pipelined round trip runs readPending per key: the
// key's pending and active ids, the pending job's record and the state of
// its asynq task. Where the one-by-one path would merge into the pending
// record in place (the record is live, not superseded, and the merge moves
// neither its asynq queue nor its run time forward by more than a second),
// a second pipelined round trip runs mergePending per key: a compare-and-set
// that writes the merged record only if the pending and active ids and the
// record are still exactly what was read. That is the steady state of a
// webhook burst, and it costs two round trips for the whole batch. Every
// other key (no pending job yet, a takeover, a lost task to repair, a
// cancelled pending job, a compare-and-set that lost a race) goes through
// the one-by-one path, whose
// WATCH/MULTI transactions the compare-and-set is atomic with: it changes
// the record those transactions watch, and checks the hash they change.
//
// readPending reads the asynq task's state from asynq's task hash
// ("asynq:{<queue>}:t:<id>", field "state"); TestTaskStateKeyMatchesAsynq
// guards that layout against asynq upgrades.

// readPending returns {pending id, active id, pending record, task state},
// each "" when absent. KEYS[1] is the coalesce hash; ARGV[1] the job record
// key prefix.
var readPending = redis.NewScript(`
local co = redis.call('HMGET', KEYS[1], 'pending', 'active')
local pending, active = co[1] or '', co[2] or ''
local rec, state = '', ''
if pending ~= '' then
	rec = redis.call('GET', ARGV[1] .. pending) or ''
	if rec ~= '' then
		local ok, r = pcall(cjson.decode, rec)
		if ok and type(r) == 'table' and type(r.queue) == 'string' then
			state = redis.call('HGET', 'asynq:{' .. r.queue .. '}:t:' .. pending, 'state') or ''
		end
	end
end
return {pending, active, rec, state}`)

// mergePending writes a merged record if nothing changed since readPending:
// KEYS[1] is the coalesce hash, KEYS[2] the pending job's record; ARGV are
// the pending id, the active id, the record read, the merged record and its
// time to live in milliseconds. It returns 1 when it wrote, else 0.
var mergePending = redis.NewScript(`
local co = redis.call('HMGET', KEYS[1], 'pending', 'active')
if (co[1] or '') ~= ARGV[1] or (co[2] or '') ~= ARGV[2] then return 0 end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
return 1`)

// fastRounds bounds the compare-and-set rounds of a batch before the keys
// still in play take the one-by-one path.
const fastRounds = 2

// slowParallel bounds the one-by-one enqueues of a batch that run at once.
const slowParallel = 8

// group is the requests of one batch that share a coalesce key.
type group struct {
	key   string
	job   ohx.Job
	delay time.Duration
	idx   []int // the requests' positions in the batch
	id    string
	err   error
}

// EnqueueBatch implements queue.BatchEnqueuer: the same outcome as Enqueue
// for each request in order, in two round trips for the whole batch when
// its jobs merge into pending ones (see the comment at the top of this
// file). Requests with NoCoalesce or a caller-chosen id are enqueued one by
// one.
func (q *Queue) EnqueueBatch(ctx context.Context, reqs []queue.Request) []queue.Result {
	out := make([]queue.Result, len(reqs))
	byKey := map[string]*group{}
	var groups []*group
	var alone []int
	now := time.Now().UTC()
	for i, r := range reqs {
		if err := r.Job.Validate(); err != nil {
			out[i].Err = err
			continue
		}
		if r.Options.Delay < 0 {
			out[i].Err = fmt.Errorf("redisq: negative delay %s", r.Options.Delay)
			continue
		}
		if r.Options.NoCoalesce || r.Job.ID != "" {
			alone = append(alone, i)
			continue
		}
		j := cloneJob(r.Job)
		j.Attempt = 0
		if j.EnqueuedAt.IsZero() {
			j.EnqueuedAt = now
		}
		key := j.CoalesceKey()
		g := byKey[key]
		if g == nil {
			g = &group{key: key, job: j, delay: r.Options.Delay}
			byKey[key] = g
			groups = append(groups, g)
		} else {
			g.job.Merge(j)
			g.delay = min(g.delay, r.Options.Delay)
		}
		g.idx = append(g.idx, i)
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, slowParallel)
	slow := func(fn func()) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn()
		})
	}
	for _, i := range alone {
		slow(func() { out[i].ID, out[i].Err = q.Enqueue(ctx, reqs[i].Job, reqs[i].Options) })
	}
	rest := groups
	for round := 0; round < fastRounds && len(rest) > 0 && ctx.Err() == nil; round++ {
		var again []*group
		again, rest = q.mergeRound(ctx, rest)
		for _, g := range rest {
			slow(func() { g.id, g.err = q.enqueueCoalesced(ctx, g.job, g.delay) })
		}
		rest = again
	}
	for _, g := range rest {
		slow(func() { g.id, g.err = q.enqueueCoalesced(ctx, g.job, g.delay) })
	}
	wg.Wait()
	for _, g := range groups {
		for _, i := range g.idx {
			out[i] = queue.Result{ID: g.id, Err: g.err}
		}
	}
	return out
}

// pendingState is what readPending returned for a key.
type pendingState struct {
	pending, active, rec, state string
}

// live reports whether the pending job's asynq task exists and has not
// finished (what taskLive asks asynq's inspector).
func (s pendingState) live() bool {
	return s.state != "" && s.state != "archived" && s.state != "completed"
}

// mergeRound tries to merge every group into its key's pending record in
// place, in two pipelined round trips. Groups whose compare-and-set lost a
// race come back in again; those that need the one-by-one path in slow.
// Merged groups get their id.
func (q *Queue) mergeRound(ctx context.Context, groups []*group) (again, slow []*group) {
	reads := make([]*redis.Cmd, len(groups))
	_ = q.pipelineScript(ctx, readPending, func(p redis.Pipeliner) {
		for i, g := range groups {
			reads[i] = readPending.EvalSha(ctx, p, []string{q.coKey(g.key)}, q.cfg.Namespace+":job:")
		}
	})
	type cas struct {
		g    *group
		id   string
		keys []string
		args []any
	}
	var sets []cas
	now := time.Now()
	for i, g := range groups {
		st, ok := readState(reads[i])
		if !ok || st.pending == "" || !st.live() {
			slow = append(slow, g) // no pending job, or a task to repair
			continue
		}
		var rec record
		if err := json.Unmarshal([]byte(st.rec), &rec); err != nil || rec.Superseded != "" || rec.Cancelled {
			slow = append(slow, g) // a cancelled job takes no more work
			continue
		}
		runAt := now.Add(g.delay)
		if st.active != "" {
			runAt = later(runAt, now.Add(q.cfg.Debounce))
		}
		merged := rec
		merged.Job = cloneJob(rec.Job)
		merged.Job.Merge(g.job)
		if q.queueName(merged.Job.EffectivePriority()) != rec.Queue || runAt.Before(rec.RunAt.Add(-time.Second)) {
			slow = append(slow, g) // a takeover: new id, queue or time
			continue
		}
		sets = append(sets, cas{g: g, id: st.pending, keys: []string{q.coKey(g.key), q.jobKey(st.pending)},
			args: []any{st.pending, st.active, st.rec, encode(merged), recordTTL.Milliseconds()}})
	}
	if len(sets) == 0 {
		return nil, slow
	}
	writes := make([]*redis.Cmd, len(sets))
	_ = q.pipelineScript(ctx, mergePending, func(p redis.Pipeliner) {
		for i, s := range sets {
			writes[i] = mergePending.EvalSha(ctx, p, s.keys, s.args...)
		}
	})
	for i, s := range sets {
		n, err := writes[i].Int()
		switch {
		case err == nil && n == 1:
			s.g.id = s.id
		case err == nil:
			again = append(again, s.g) // lost a race: look again
		default:
			slow = append(slow, s.g) // the one-by-one path reports the error
		}
	}
	return again, slow
}

// readState decodes a readPending reply.
func readState(c *redis.Cmd) (pendingState, bool) {
	v, err := c.StringSlice()
	if err != nil || len(v) != 4 {
		return pendingState{}, false
	}
	return pendingState{pending: v[0], active: v[1], rec: v[2], state: v[3]}, true
}

// pipelineScript runs fill's EVALSHA calls of s in one pipeline, loading
// the script and running them again once when Redis does not know it yet
// (a new or restarted Redis). Errors stay on the commands.
func (q *Queue) pipelineScript(ctx context.Context, s *redis.Script, fill func(redis.Pipeliner)) error {
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fill(p); return nil })
	if err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return err
	}
	if err := s.Load(ctx, q.rdb).Err(); err != nil {
		return fmt.Errorf("redisq: load script: %w", err)
	}
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fill(p); return nil })
	return err
}
