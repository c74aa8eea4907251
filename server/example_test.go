package server_test

import (
	"context"
	"log"
	"net/http"
	"strings"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
)

// A server in an application's own mux, with the queue and breaker
// operations of NewAdmin, its workers and its scheduler.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := store.NewMemory() // a server.Store: it lists links for the scheduler
	q, err := queue.NewMemory(queue.Config{})
	if err != nil {
		log.Fatal(err)
	}
	breakers := resilience.NewBreakers(resilience.BreakersConfig{}) // handed to the providers and the FHIR publisher
	providers := []ohx.Provider{&ohxtest.Provider{}}
	engine, err := ohx.NewEngine(ohx.EngineConfig{Providers: providers, Links: st, Cursors: st,
		Transformer: discard{}, Publisher: discard{}})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Store: st, Queue: q, Engine: engine, Providers: providers,
		PublicURL: "https://ehr.example/ohx", StateKey: []byte(strings.Repeat("k", 32)),
		APIKeys: []string{"an-api-key-of-16-characters-or-more"},
		Admin:   server.NewAdmin(q, breakers), // /v1/queue, /v1/jobs, /v1/breakers
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ohx/", http.StripPrefix("/ohx", srv.Handler()))
	go func() { _ = srv.RunWorkers(ctx) }()
	// Polls, the nightly reconciliation at 02:00 UTC and the daily webhook
	// re-ensure; tests pass a queuetest.Clock in SchedulerConfig.Clock.
	go func() { _ = srv.RunScheduler(ctx, server.SchedulerConfig{}) }()
}
