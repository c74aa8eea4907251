package oura

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// Webhook headers Oura signs deliveries with.
const (
	// SignatureHeader carries hex(HMAC-SHA256(client secret,
	// timestamp ‖ raw body)); Oura writes it in upper case.
	SignatureHeader = "x-oura-signature"
	// TimestampHeader carries the signing time, Unix seconds as far as
	// known.
	TimestampHeader = "x-oura-timestamp"
)

// Webhook defaults.
const (
	// DefaultWebhookMaxBody bounds a delivery body; real ones are under
	// 300 bytes.
	DefaultWebhookMaxBody = 16 << 10
	// DefaultWebhookTolerance is how far x-oura-timestamp may lie from the
	// receiver's clock. Oura documents no replay window and retries a
	// failed delivery for about an hour, possibly with the first
	// timestamp; a replay within the tolerance only re-reads data the link
	// may read anyway (deliveries carry ids, never values).
	DefaultWebhookTolerance = 2 * time.Hour
	// DefaultWebhookLookback is how far before an event's time the
	// notified re-read starts: a ring that synced after days offline
	// announces nights up to that old. It matches the nightly
	// reconciliation's lookback.
	DefaultWebhookLookback = 3 * 24 * time.Hour
	// DefaultNotifyTimeout bounds the notify callback, so the answer stays
	// within Oura's 10 seconds.
	DefaultNotifyTimeout = 5 * time.Second
	// DefaultRenewBefore is how long before its expiry a subscription is
	// renewed by EnsureSubscriptions (they last about 90 days).
	DefaultRenewBefore = 14 * 24 * time.Hour
	// DefaultCreateTimeout bounds a subscription creation, during which
	// Oura calls the callback to verify it; Oura's own proxy gives up at
	// about 60 s.
	DefaultCreateTimeout = 90 * time.Second
	// maxChallenge bounds the verification challenge echoed back.
	maxChallenge = 1024
)

// DefaultWebhookDataTypes are the Oura data types subscribed when
// WebhookConfig.DataTypes is nil: those whose documents ohx reads. Heart
// rate has no webhook; it comes from the polled schedule.
var defaultWebhookDataTypes = []string{"sleep", "daily_activity", "daily_readiness", "daily_spo2", "vo2_max"}

// DefaultWebhookDataTypes returns the Oura data types subscribed by default.
func DefaultWebhookDataTypes() []string { return append([]string(nil), defaultWebhookDataTypes...) }

// eventKinds are the event types subscribed per data type.
var eventKinds = []string{"create", "update", "delete"}

// WebhookConfig configures the webhook receiver and the application's
// subscriptions. Oura signs every delivery with the application's client
// secret; subscriptions belong to the application, not to a user, and each
// delivery names the user.
type WebhookConfig struct {
	// CallbackURL is the public HTTPS URL where WebhookHandler is mounted,
	// given to Oura by EnsureSubscriptions (Oura's verification fails
	// without a complete TLS chain).
	CallbackURL string
	// VerificationToken is the secret Oura sends back in its verification
	// call when a subscription is created. Empty means the handler refuses
	// verification calls and subscriptions cannot be created.
	VerificationToken string
	// DataTypes are the Oura data types EnsureSubscriptions subscribes, for
	// create, update and delete events; nil means DefaultWebhookDataTypes().
	DataTypes []string
	// Tolerance is how far x-oura-timestamp may lie from now; 0 means
	// DefaultWebhookTolerance, a negative value checks the format only.
	Tolerance time.Duration
	// Lookback is how far before the event's time its re-read starts; 0
	// means DefaultWebhookLookback.
	Lookback time.Duration
	// MaxBody bounds a delivery body; 0 means DefaultWebhookMaxBody.
	MaxBody int64
	// NotifyTimeout bounds the notify callback; 0 means
	// DefaultNotifyTimeout.
	NotifyTimeout time.Duration
	// RenewBefore is how long before expiry EnsureSubscriptions renews a
	// subscription; 0 means DefaultRenewBefore.
	RenewBefore time.Duration
	// CreateTimeout bounds a subscription creation; 0 means
	// DefaultCreateTimeout.
	CreateTimeout time.Duration
}

// check validates the configuration and fills its defaults.
func (c *WebhookConfig) check() error {
	if c.CallbackURL != "" && !absURL(c.CallbackURL) {
		return errors.New("oura: webhook callback URL is not an absolute URL")
	}
	if c.Lookback < 0 || c.MaxBody < 0 || c.NotifyTimeout < 0 || c.RenewBefore < 0 || c.CreateTimeout < 0 {
		return errors.New("oura: webhook durations and sizes must not be negative")
	}
	for _, dt := range c.DataTypes {
		if !validDataType(dt) {
			return fmt.Errorf("oura: unknown webhook data type %q", dt)
		}
	}
	if c.DataTypes == nil {
		c.DataTypes = DefaultWebhookDataTypes()
	}
	if c.Tolerance == 0 {
		c.Tolerance = DefaultWebhookTolerance
	}
	if c.Lookback == 0 {
		c.Lookback = DefaultWebhookLookback
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultWebhookMaxBody
	}
	if c.NotifyTimeout == 0 {
		c.NotifyTimeout = DefaultNotifyTimeout
	}
	if c.RenewBefore == 0 {
		c.RenewBefore = DefaultRenewBefore
	}
	if c.CreateTimeout == 0 {
		c.CreateTimeout = DefaultCreateTimeout
	}
	return nil
}

// webhookDataTypes is the data_type enum of Oura's OpenAPI 1.37.
var webhookDataTypes = []string{"tag", "enhanced_tag", "workout", "session", "sleep", "daily_sleep", "daily_readiness",
	"daily_activity", "daily_spo2", "sleep_time", "rest_mode_period", "ring_configuration", "daily_stress",
	"daily_cardiovascular_age", "daily_resilience", "vo2_max", "meal"}

func validDataType(dt string) bool {
	for _, v := range webhookDataTypes {
		if v == dt {
			return true
		}
	}
	return false
}

// WebhookHandler implements ohx.WebhookReceiver. The handler answers
//
//   - Oura's verification call (GET with verification_token and challenge):
//     200 with {"challenge": …} when the token equals
//     WebhookConfig.VerificationToken (constant-time), else 401;
//   - a delivery (POST): 401 unless x-oura-signature is the HMAC-SHA256
//     under the client secret of x-oura-timestamp followed by the raw body
//     (constant-time, hex in either case) and the timestamp lies within the
//     tolerance; 400 for a body that is not an Oura event; otherwise an
//     event about data ohx reads is handed to notify (it gets at most
//     WebhookConfig.NotifyTimeout) and answered 204 only when notify
//     returned nil: the notification is durable. When notify fails (or is
//     nil) the answer is 503 with Retry-After, which Oura retries (4xx, 5xx
//     and timeouts, about ten times over an hour). Events about other data
//     are answered 204 and dropped, so Oura does not retry them.
//
// Bodies above WebhookConfig.MaxBody get 413. The handler never answers
// 410, which would cancel the subscription.
func (p *Provider) WebhookHandler(notify ohx.NotifyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := p.serveWebhook(w, r, notify)
		p.metrics.WebhookRequest(Name, status)
	})
}

func (p *Provider) serveWebhook(w http.ResponseWriter, r *http.Request, notify ohx.NotifyFunc) int {
	reply := func(status int) int {
		w.WriteHeader(status)
		return status
	}
	switch r.Method {
	case http.MethodGet:
		return p.verifyCallback(w, r)
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		return reply(http.StatusMethodNotAllowed)
	}
	body, status, err := provider.ReadBody(w, r, p.cfg.Webhook.MaxBody)
	if err != nil {
		return reply(status)
	}
	if err := p.VerifySignature(r.Header, body); err != nil {
		p.log.Warn("webhook delivery refused", zap.String("reason", err.Error()))
		return reply(http.StatusUnauthorized)
	}
	n, ok, err := ParseEvent(body, p.now(), p.cfg.Webhook.Lookback)
	if err != nil {
		p.log.Warn("webhook body rejected", zap.String("reason", err.Error()))
		return reply(http.StatusBadRequest)
	}
	if !ok {
		return reply(http.StatusNoContent)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), p.cfg.Webhook.NotifyTimeout)
	defer cancel()
	if err := provider.Notify(ctx, notify, n); err != nil {
		p.log.Warn("webhook event not queued; asking Oura to retry", zap.Error(err))
		return provider.RetryLater(w)
	}
	return reply(http.StatusNoContent)
}

// verifyCallback answers Oura's verification call.
func (p *Provider) verifyCallback(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query()
	challenge := q.Get("challenge")
	if !provider.SecretEqual(q.Get("verification_token"), p.cfg.Webhook.VerificationToken) {
		w.WriteHeader(http.StatusUnauthorized)
		return http.StatusUnauthorized
	}
	if challenge == "" || len(challenge) > maxChallenge {
		w.WriteHeader(http.StatusBadRequest)
		return http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]string{"challenge": challenge})
	return http.StatusOK
}

// Errors of VerifySignature.
var (
	// ErrUnsigned: the delivery lacks the signature or timestamp header.
	ErrUnsigned = errors.New("oura: delivery is not signed")
	// ErrBadSignature: the signature does not match the body.
	ErrBadSignature = errors.New("oura: delivery signature does not match")
	// ErrStale: the signing timestamp is outside the tolerance.
	ErrStale = errors.New("oura: delivery timestamp outside the tolerance")
)

// VerifySignature checks a delivery's signature headers against its raw
// body: x-oura-signature must be the HMAC-SHA256 under the client secret of
// x-oura-timestamp followed by the body, and the timestamp must lie within
// WebhookConfig.Tolerance of now. The body must be the bytes as received:
// re-serialized JSON does not verify.
func (p *Provider) VerifySignature(h http.Header, body []byte) error {
	sig, ts := strings.TrimSpace(h.Get(SignatureHeader)), strings.TrimSpace(h.Get(TimestampHeader))
	if sig == "" || ts == "" {
		return ErrUnsigned
	}
	if !provider.VerifyHMACSHA256([]byte(p.cfg.ClientSecret), sig, []byte(ts), body) {
		return ErrBadSignature
	}
	if _, err := provider.CheckTimestamp(ts, p.now(), p.cfg.Webhook.Tolerance); err != nil {
		return fmt.Errorf("%w: %w", ErrStale, err)
	}
	return nil
}

// ErrMalformedEvent is returned by ParseEvent for a body that is not an
// Oura webhook event.
var ErrMalformedEvent = errors.New("oura: malformed webhook event")

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformedEvent, what) }

// maxEventSkew bounds how far an event_time may lie from the receipt time
// before the receipt time is used instead.
const maxEventSkew = 30 * 24 * time.Hour

// ParseEvent reads a webhook event, {"event_type", "data_type",
// "object_id", "event_time", "user_id"}. ok is false (with a nil error) for
// a well-formed event ohx has nothing to do for: a data type it does not
// read (tags, workouts, ring configuration…) or an event type it does not
// know. Create and update events give ohx.NotifyData, delete events
// ohx.NotifyDelete, for the ohx types the data type feeds.
//
// Oura's event names a document, not a time range: the notification's
// window runs from lookback before the event's time (the receipt time when
// event_time is missing or more than 30 days off) to a minute after it, so
// the documents a ring sync announces, days old when the ring was offline,
// are re-read.
func ParseEvent(body []byte, received time.Time, lookback time.Duration) (n ohx.Notification, ok bool, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return n, false, malformed("not a JSON object")
	}
	var ev wire.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return n, false, malformed("not an event")
	}
	if ev.UserID == "" || len(ev.UserID) > 200 || strings.IndexFunc(ev.UserID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return n, false, malformed("user_id")
	}
	if ev.DataType == "" || ev.EventType == "" {
		return n, false, malformed("event_type or data_type missing")
	}
	n = ohx.Notification{Provider: Name, ExternalUserID: ev.UserID, Received: received}
	switch strings.ToLower(ev.EventType) {
	case "create", "update":
		n.Kind = ohx.NotifyData
	case "delete":
		n.Kind = ohx.NotifyDelete
	default:
		return ohx.Notification{}, false, nil
	}
	n.DataTypes = eventTypes(strings.ToLower(ev.DataType))
	if n.DataTypes == nil {
		return ohx.Notification{}, false, nil
	}
	if lookback <= 0 {
		lookback = DefaultWebhookLookback
	}
	at := ev.EventTime.UTC()
	if ev.EventTime.IsZero() || at.Sub(received) > maxEventSkew || received.Sub(at) > maxEventSkew {
		at = received.UTC()
	}
	n.Window = ohx.Window{Start: at.Add(-lookback), End: at.Add(time.Minute)}
	return n, true, nil
}
