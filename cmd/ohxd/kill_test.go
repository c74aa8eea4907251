package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue/redisq"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
	"github.com/openhealthexchange/ohx/withings"
)

// notified is one notification the daemon acknowledged: the link it is for
// and the window it named.
type notified struct {
	link   string
	window ohx.Window
}

// TestKilledIntakeLosesNoAcknowledgedNotification SIGKILLs `ohxd serve
// -api-only` in the middle of bursts of Withings notifications from 32
// concurrent senders, three times, starting it again on the same Redis and
// store each time; a last burst runs on a process left alive. Then it
// drains the Redis queue with a worker of its own: every notification a
// daemon answered 200 must be covered by a job that ran (same link, a
// window that contains the notification's). The users outnumber the killed
// bursts, so each kill lands while jobs of new users are being created, and
// the last burst comes back to every user, so it merges into whatever the
// killed processes left half-written (a job record whose task was never
// created must be repaired, not merged into). Notifications in flight when
// a process died got no answer; Withings would retry them.
func TestKilledIntakeLosesNoAcknowledgedNotification(t *testing.T) {
	redisURL := os.Getenv("OHX_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("OHX_TEST_REDIS_URL is not set")
	}
	bin := daemonBinary(t)
	const users, kills, perKill = 1000, 3, 150
	ns := "ohx-kill-" + randomHex(6)
	rdb := killTestRedis(t, redisURL, ns)

	// Links exist before the daemon starts: written to its SQLite store
	// with its key.
	dir := t.TempDir()
	key, err := seal.GenerateKey("kill")
	require.NoError(t, err)
	ring, err := seal.NewKeyRing(key)
	require.NoError(t, err)
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ohx.db"), ring)
	require.NoError(t, err)
	linkOf := map[int]string{}
	for i := range users {
		id := fmt.Sprintf("kill-link-%03d", i)
		linkOf[7000+i] = id
		require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: id, Provider: withings.Name, ExternalUserID: strconv.Itoa(7000 + i),
			Patient: "Patient/kill-" + strconv.Itoa(i), Status: ohx.LinkActive, DataTypes: []ohx.DataType{ohx.BodyWeight}}))
	}
	require.NoError(t, st.Close())

	secret := randomHex(16)
	start := func() *daemon {
		addr := freeAddr(t)
		return startDaemon(t, bin, addr, map[string]string{
			"OHX_ADDR": addr, "OHX_DATA_DIR": dir, "OHX_API_KEYS": randomHex(16), "OHX_SECRET_KEYS": key.Encode(),
			"OHX_PUBLIC_URL": "http://" + addr, "OHX_REDIRECT_ALLOWLIST": "https://ehr.example/",
			"OHX_WITHINGS_CLIENT_ID": "kill-client", "OHX_WITHINGS_CLIENT_SECRET": "kill-secret",
			"OHX_WITHINGS_WEBHOOK_SECRET": secret, "OHX_WITHINGS_API_URL": "http://127.0.0.1:9/",
			"OHX_FHIR_URL": "http://127.0.0.1:9/fhir", "OHX_REDIS_URL": redisURL, "OHX_REDIS_NAMESPACE": ns,
			"OHX_WEBHOOK_DEBOUNCE": "100ms", "OHX_LOG_LEVEL": "error",
		}, "-api-only")
	}
	// Windows one minute apart from 6 days back: every one inside the push
	// bounds (7 days back, now + 5 minutes) for the first 8,000 or so
	// notifications, so the daemon never drops one on purpose.
	b := &burst{base: time.Now().UTC().Add(-6 * 24 * time.Hour).Truncate(time.Minute), users: users, linkOf: linkOf, secret: secret}

	// Bursts killed in their middle: each kill lands while jobs of new
	// users are being created.
	killed := 0
	for cycle := range kills {
		d := start()
		stop := b.run(t, d)
		require.Eventually(t, func() bool { return b.ackedCount() >= killed+perKill }, time.Minute, time.Millisecond, "the burst is under way")
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGKILL))
		assert.Error(t, <-d.exited, "the daemon died of the signal")
		require.Eventually(t, func() bool { return b.failed.Load() >= int64(32*(cycle+1)) }, 30*time.Second, time.Millisecond,
			"requests fail once the daemon is gone")
		stop()
		killed = b.ackedCount()
		t.Logf("burst %d killed: %d acknowledged so far, %d unanswered", cycle+1, killed, b.failed.Load())
	}

	// A last burst on a new process, past every user again: it merges into
	// whatever the killed processes left half-written.
	d := start()
	stop := b.run(t, d)
	require.Eventually(t, func() bool { return b.ackedCount() >= killed+users+perKill }, 2*time.Minute, time.Millisecond,
		"the last burst comes back to every user")
	stop()
	assert.Zero(t, b.refused.Load(), "a healthy daemon refused notifications")
	t.Logf("in all: %d acknowledged", b.ackedCount())

	// Drain the queue with a worker of our own.
	q, err := redisq.New(rdb, redisq.Config{Namespace: ns, PollInterval: 50 * time.Millisecond, Lease: 2 * time.Second, Concurrency: 8})
	require.NoError(t, err)
	var rmu sync.Mutex
	ran := map[string][]ohx.Window{}
	wctx, wstop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- q.Run(wctx, ohx.HandlerFunc(func(_ context.Context, j ohx.Job) error {
			w := ohx.Window{Start: time.Unix(0, 0), End: time.Now().Add(time.Hour)} // no window: everything
			if j.Window != nil {
				w = *j.Window
			}
			rmu.Lock()
			defer rmu.Unlock()
			ran[j.LinkID] = append(ran[j.LinkID], w)
			return nil
		}))
	}()
	t.Cleanup(func() { wstop(); assert.NoError(t, <-done) })
	covered := func(n notified) bool {
		rmu.Lock()
		defer rmu.Unlock()
		for _, w := range ran[n.link] {
			if !w.Start.After(n.window.Start) && !w.End.Before(n.window.End) {
				return true
			}
		}
		return false
	}
	acked := b.all()
	var lost []notified
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		lost = lost[:0]
		for _, n := range acked {
			if !covered(n) {
				lost = append(lost, n)
			}
		}
		if len(lost) == 0 || time.Now().After(deadline) {
			break
		}
	}
	require.Empty(t, lost, "%d of %d acknowledged notifications have no job covering them", len(lost), len(acked))
}

// burst sends Withings notifications from 32 concurrent senders, each its
// own one-minute window, round-robin over the users, and records which the
// daemon acknowledged.
type burst struct {
	base    time.Time
	users   int
	linkOf  map[int]string
	secret  string
	next    atomic.Int64
	refused atomic.Int64 // answered, but not 200
	failed  atomic.Int64 // no answer: the process died

	mu    sync.Mutex
	acked []notified
}

func (b *burst) ackedCount() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.acked) }

func (b *burst) all() []notified {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]notified(nil), b.acked...)
}

// run starts the senders against d and returns the function that stops them
// and waits for them.
func (b *burst) run(t *testing.T, d *daemon) (stop func()) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for ctx.Err() == nil {
				b.send(ctx, t, client, d)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
		client.CloseIdleConnections()
	}
}

func (b *burst) send(ctx context.Context, t *testing.T, client *http.Client, d *daemon) {
	n := int(b.next.Add(1))
	user := 7000 + n%b.users
	start := b.base.Add(time.Duration(n) * time.Minute)
	form := url.Values{"userid": {strconv.Itoa(user)}, "appli": {"1"},
		"startdate": {strconv.FormatInt(start.Unix(), 10)}, "enddate": {strconv.FormatInt(start.Unix()+59, 10)}}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost,
		d.url+"/webhooks/withings/"+b.secret, strings.NewReader(form.Encode()))
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		b.failed.Add(1)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.refused.Add(1)
		return
	}
	b.mu.Lock()
	b.acked = append(b.acked, notified{link: b.linkOf[user], window: ohx.Window{Start: start, End: start.Add(time.Minute)}})
	b.mu.Unlock()
}

// killTestRedis connects to the test Redis and deletes the namespace's keys
// when the test ends.
func killTestRedis(t *testing.T, redisURL, ns string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, pattern := range []string{ns + ":*", "asynq:{" + ns + ":*"} {
			it := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
			var keys []string
			for it.Next(ctx) {
				keys = append(keys, it.Val())
			}
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		}
		for _, p := range []string{"1", "3", "5"} {
			rdb.SRem(ctx, "asynq:queues", ns+":p"+p)
		}
		_ = rdb.Close()
	})
	require.NoError(t, rdb.Ping(t.Context()).Err())
	return rdb
}
