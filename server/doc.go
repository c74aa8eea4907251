// Package server is the HTTP face of ohx: the /v1 API that links patients and
// triggers syncs, the OAuth callback, the provider webhooks, the worker that
// runs queued jobs with the engine, the scheduler of polled and nightly syncs,
// and the health endpoints. cmd/ohxd wires it; an EHR vendor can mount
// [Server.Handler] in its own service instead.
//
// The linking flow:
//
//  1. POST /v1/links {"provider","patient","data_types","success_url","error_url"}
//     stores a pending link and answers its authorize_url, carrying a signed,
//     expiring state (HMAC-SHA256) and, where the provider supports it, a
//     PKCE challenge whose verifier is derived from the state with the
//     server's key (never sent to the browser).
//  2. The patient consents at the provider, whose redirect lands on
//     GET /oauth/{provider}/callback. The state is verified (signature, expiry,
//     a pending link of that provider), the code exchanged, the sealed token
//     stored, webhooks subscribed, a device sync and an initial sync queued,
//     and the browser redirected to the allow-listed success URL (or the error
//     URL with an error code; never a token).
//
// Webhook notifications become push jobs for the link of the notified user
// ([Server.Notify], the ohx.NotifyFunc handed to every receiver);
// notifications for unknown users are acknowledged and dropped. A
// notification is acknowledged only once its job is durable, else the
// receiver answers 503 and the provider retries; concurrent notifications
// share the queue's round trips (queue.GroupCommit, when the queue is a
// queue.BatchEnqueuer). A sync that
// finds the grant revoked marks the link needs-reconsent, stops its jobs
// retrying, counts it in ohx_link_status_changes_total and writes an audit
// record.
//
// # Routes
//
// Handler serves /v1 (bearer API keys; the OpenAPI document at
// /v1/openapi.json), GET and HEAD /oauth/{provider}/callback,
// /webhooks/{provider} for every provider that is an ohx.WebhookReceiver,
// /livez, /readyz, /healthz (Config.Checks) and /metrics
// (Config.MetricsHandler). Queue and breaker operations under /v1 need
// Config.Admin: [NewAdmin] makes it from the queue's inspector and the
// breaker registries.
//
// # Scheduler
//
// [Server.RunScheduler] runs a queue.Scheduler (with an injectable
// queue.Clock) of three entries: polled incremental syncs of hourly and
// daily links when ohx.PollDue says they are due, the nightly reconciliation
// of realtime links, and the daily re-ensure of webhook subscriptions.
// [Server.SchedulerEntries] hands the entries to an application that runs
// its own scheduler. The scheduler lists links, so Config.Store is a [Store]:
// an ohx.Store that is also a store.LinkLister.
//
// # Without a provider
//
// A server without providers needs no engine: it answers health probes and
// the API (GET /v1/providers lists nothing, POST /v1/links answers 400
// "no provider is configured on this server"), and RunWorkers refuses to
// start, leaving queued jobs to servers that can run them.
//
// # Embedding
//
// An application mounts the handler in its own mux and runs the workers (and,
// if it wants polled and nightly syncs, the scheduler) next to its own
// goroutines:
//
//	srv, err := server.New(server.Config{
//		Store: st, Queue: q, Engine: engine, Providers: providers,
//		PublicURL: "https://ehr.example/ohx", StateKey: stateKey, APIKeys: keys,
//		RedirectAllowlist: []string{"https://ehr.example/patients/"},
//		Admin: server.NewAdmin(q, breakers), // q a queue.Inspector, breakers a *resilience.Breakers
//	})
//	mux.Handle("/ohx/", http.StripPrefix("/ohx", srv.Handler()))
//	go srv.RunWorkers(ctx)
//	go srv.RunScheduler(ctx, server.SchedulerConfig{})
//
// PublicURL must be the URL the handler is reachable at, prefix included:
// the OAuth redirect URI registered with each provider is
// PublicURL+"/oauth/{provider}/callback". examples/embed is a complete
// program.
package server
