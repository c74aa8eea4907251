// Package server is the HTTP face of ohx: the /v1 API that links patients and
// triggers syncs, the OAuth callback, the provider webhooks, the worker that
// runs queued jobs with the engine, the scheduler of polled and nightly syncs,
// and the health endpoints. cmd/ohxd wires it; an EHR vendor can mount
// [Server.Handler] in its own service instead.
//
// The linking flow:
//
//  1. POST /v1/links {"provider","patient","data_types","success_url","error_url"}
//     stores a pending link and a connect flow (store.ConnectStore) and
//     answers authorize_url: ohx's one-time patient connect page,
//     PublicURL+"/connect/{secret}", which the EHR opens in the patient's
//     authenticated session right away.
//  2. GET /connect/{secret} names the organisation (Config.OrganizationName),
//     the provider and the data types (strings of a Messages catalog) and
//     binds the flow to the browser with a cookie; the page opens in that
//     browser only. Its form (POST, from that browser, with a token bound to
//     flow and cookie) redirects to the provider's consent with a signed,
//     expiring state (HMAC-SHA256) naming link, provider and flow, and, where
//     the provider supports it, a PKCE challenge whose verifier is derived
//     from the state with the server's key (never sent to the browser).
//  3. The provider's redirect lands on GET /oauth/{provider}/callback. The
//     state is verified (signature, expiry, provider), the flow consumed with
//     the cookie of the browser that opened the page (a request without it
//     is refused and consumes nothing; a flow is consumed once, denials
//     included), the code exchanged, the sealed token stored, webhooks
//     subscribed, a device sync and an initial sync queued, and the browser
//     redirected to the success URL (or the error URL with an error code;
//     never a token), both checked against the allow-list again.
//
// Links pending longer than Config.PendingLinkTTL are deleted by the
// scheduler (with the event link.expired). server/connecttest drives the
// flow like a browser, for tests.
//
// Webhook notifications become push jobs for the link of the notified user
// ([Server.Notify], the ohx.NotifyFunc handed to every receiver), their
// windows clamped (Config.PushMaxAge, PushMaxAhead); notifications for
// unknown users are acknowledged and dropped. A notification is
// acknowledged only once its job is durable, else the receiver answers 503
// and the provider retries; concurrent notifications share the queue's
// round trips (queue.GroupCommit, when the queue is a queue.BatchEnqueuer).
// A revocation notification only queues a check with the provider
// (ohx.TriggerRevocationCheck), acknowledged once that check is durable
// like any other job: the link is revoked, and its token deleted, when the
// provider refuses the grant (in one transaction with the event
// link.revoked). A sync that
// finds the grant revoked marks the link needs-reconsent, stops its jobs
// retrying, counts it in ohx_link_status_changes_total and writes an audit
// record.
//
// # Routes
//
// Handler serves /v1 (bearer API keys, failed authentications limited per
// client address; the OpenAPI document at /v1/openapi.json), GET and POST
// /connect/{secret}, GET and HEAD /oauth/{provider}/callback,
// /webhooks/{provider} for every provider that is an ohx.WebhookReceiver,
// /livez, /readyz, /healthz (Config.Checks) and /metrics
// (Config.MetricsHandler); with Config.SeparateOps the last four move to
// [Server.OpsHandler]. Queue and breaker operations under /v1 need
// Config.Admin: [NewAdmin] makes it from the queue's inspector and the
// breaker registries.
//
// # Link status and events
//
// HandleJob records, in the store, each data type's outcome and counts and
// the state of a link's initial sync (pending, running, done, failed with
// an error kind); GET /v1/links/{id} shows them with the data time each
// type is covered up to, and GET /v1/links/{id}/jobs the link's jobs the
// queue still holds. With Config.Events set, every state change an EHR
// cares about is written together with its event (package events) into
// the store's outbox, in one transaction (store.Change), and
// [Server.RunEvents] delivers the events at least once, with retries under
// the same id, then as dead letters that GET /v1/events lists and POST
// /v1/events/{id}/retry replays. The store must then be a store.Changer
// and a store.Outbox, as every store of ohx is.
//
// # Scheduler
//
// [Server.RunScheduler] runs a queue.Scheduler (with an injectable
// queue.Clock) of three entries: polled incremental syncs of hourly and
// daily links when ohx.PollDue says they are due (and, hourly, the types no
// webhook announces of the realtime links of a provider that names them:
// [PolledTypes], Oura's heart rate), the nightly reconciliation of realtime
// links, and the daily re-ensure of webhook subscriptions, plus the
// application's own SchedulerConfig.Entries. [Server.SchedulerEntries] hands
// the server's entries to an application that runs its own scheduler. The scheduler lists links, so Config.Store is a [Store]:
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
//	go srv.RunEvents(ctx) // with Config.Events: an events.Webhook, or your own events.Sink
//
// PublicURL must be the URL the handler is reachable at, prefix included:
// the OAuth redirect URI registered with each provider is
// PublicURL+"/oauth/{provider}/callback". examples/embed is a complete
// program.
package server
