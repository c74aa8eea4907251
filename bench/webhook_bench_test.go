package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
	"github.com/openhealthexchange/ohx/withings"
)

type nopTransformer struct{}

func (nopTransformer) Transform(context.Context, ohx.Batch) ([]ohx.Resource, error) { return nil, nil }

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, []ohx.Resource) (ohx.PublishResult, error) {
	return ohx.PublishResult{}, nil
}

// BenchmarkWebhookHandler measures the daemon's webhook intake in process:
// a Withings form notification for a linked user through server.Handler
// (secret check, form parsing, link lookup, enqueue with coalescing into the
// memory queue), without network. The load program (bench/load) measures it
// over loopback with the Redis queue.
func BenchmarkWebhookHandler(b *testing.B) {
	st := store.NewMemory()
	p, err := withings.New(withings.Config{ClientID: "c", ClientSecret: "s",
		Webhook: withings.WebhookConfig{Secret: "bench-secret-0123456789"},
		Common:  provider.Common{Tokens: st},
	})
	if err != nil {
		b.Fatal(err)
	}
	q, err := queue.NewMemory(queue.Config{})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st,
		Transformer: nopTransformer{}, Publisher: nopPublisher{}})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{p},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), Debounce: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.SaveLink(context.Background(), ohx.Link{ID: "l1", Provider: withings.Name, ExternalUserID: "4242",
		Patient: "Patient/1", Status: ohx.LinkActive}); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	end := time.Now().Unix()
	body := url.Values{"userid": {"4242"}, "appli": {"1"}, "startdate": {strconv.FormatInt(end-60, 10)},
		"enddate": {strconv.FormatInt(end, 10)}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/bench-secret-0123456789", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "127.0.0.1:1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/request")
}

// BenchmarkWebhookIntakeParallel measures the durable intake under
// concurrency: Withings form notifications for 8 linked users, sent by 32
// goroutines per CPU through server.Handler into a store and a queue that
// acknowledges only what it holds (group commit into EnqueueBatch). The
// "sqlite" store is the daemon's default; "redis" is the daemon's queue
// (skipped without OHX_TEST_REDIS_URL).
func BenchmarkWebhookIntakeParallel(b *testing.B) {
	for _, st := range []string{"memory", "sqlite"} {
		for _, qn := range []string{"memory", "redis"} {
			b.Run(st+"-store/"+qn+"-queue", func(b *testing.B) {
				h := intakeHandler(b, st, qn)
				end := time.Now().Unix()
				var n atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						body := url.Values{"userid": {strconv.FormatInt(4242+i%8, 10)}, "appli": {"1"},
							"startdate": {strconv.FormatInt(end-60-i%600, 10)}, "enddate": {strconv.FormatInt(end-i%600, 10)}}.Encode()
						req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/bench-secret-0123456789", strings.NewReader(body))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.RemoteAddr = "127.0.0.1:1234"
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK {
							b.Errorf("status %d", rec.Code)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
			})
		}
	}
}

// intakeHandler wires server.Handler with the Withings receiver, the named
// store and queue, and 8 active links (users 4242…4249).
func intakeHandler(b *testing.B, storeName, queueName string) http.Handler {
	b.Helper()
	var st interface {
		server.Store
		ohx.TokenStore
	}
	switch storeName {
	case "memory":
		st = store.NewMemory()
	case "sqlite":
		key, err := seal.GenerateKey("bench")
		if err != nil {
			b.Fatal(err)
		}
		ring, err := seal.NewKeyRing(key)
		if err != nil {
			b.Fatal(err)
		}
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "ohx.db"), ring)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		st = s
	}
	var q ohx.Queue
	switch queueName {
	case "memory":
		mq, err := queue.NewMemory(queue.Config{})
		if err != nil {
			b.Fatal(err)
		}
		q = mq
	case "redis":
		u := os.Getenv("OHX_TEST_REDIS_URL")
		if u == "" {
			b.Skip("OHX_TEST_REDIS_URL is not set")
		}
		opts, err := redis.ParseURL(u)
		if err != nil {
			b.Fatal(err)
		}
		opts.PoolSize = 128
		rdb := redis.NewClient(opts)
		ns := fmt.Sprintf("ohx-bench-%d", time.Now().UnixNano())
		b.Cleanup(func() { cleanRedis(rdb, ns); _ = rdb.Close() })
		rq, err := redisq.New(rdb, redisq.Config{Namespace: ns})
		if err != nil {
			b.Fatal(err)
		}
		q = rq
	}
	p, err := withings.New(withings.Config{ClientID: "c", ClientSecret: "s",
		Webhook: withings.WebhookConfig{Secret: "bench-secret-0123456789"},
		Common:  provider.Common{Tokens: st},
	})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st,
		Transformer: nopTransformer{}, Publisher: nopPublisher{}})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{p},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), Debounce: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 8 {
		if err := st.SaveLink(b.Context(), ohx.Link{ID: fmt.Sprintf("l%d", i), Provider: withings.Name,
			ExternalUserID: strconv.Itoa(4242 + i), Patient: "Patient/1", Status: ohx.LinkActive}); err != nil {
			b.Fatal(err)
		}
	}
	return srv.Handler()
}

// cleanRedis deletes a benchmark's queue keys.
func cleanRedis(rdb *redis.Client, ns string) {
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
}
