// Package events defines what ohx tells an EHR about its links, and how.
//
// An [Event] says that a link became active, needs re-consent, was revoked
// by the provider, deleted or expired, that an initial sync or a backfill
// completed, that a sync failed for good, or that a queued sync was
// cancelled ([Types]). It carries the link id, provider, patient reference,
// states, counts and error kinds: never a health value, a token or an error
// message.
//
// The server (package server) writes each event into the store's outbox in
// the same transaction as the state change it reports, and delivers it from
// there to a [Sink]: at least once, with retries and backoff, then into a
// dead letter an operator can replay. The same event keeps its ID across
// attempts, so receivers deduplicate on it.
//
// [Webhook] is the Sink that POSTs events to an EHR's URL, signed per the
// Standard Webhooks convention (https://www.standardwebhooks.com): the
// headers webhook-id, webhook-timestamp and webhook-signature
// ("v1,<base64 HMAC-SHA256 of id.timestamp.body>"), keyed with the decoded
// secret of a whsec_<base64> signing secret ([ParseSecret], [NewSecret]).
// An application that embeds ohx may instead take events in-process with its
// own Sink or a [SinkFunc].
//
// A receiver written in Go checks a delivery with [Verify] (or mounts
// [Handler]):
//
//	key, err := events.ParseSecret(os.Getenv("OHX_EVENTS_SECRET"))
//	...
//	body, err := io.ReadAll(r.Body)
//	if err := events.Verify(key, r.Header, body, time.Now()); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//
// This package imports only the root package ohx and the standard library.
package events
