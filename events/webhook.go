package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WebhookConfig configures a Webhook. URL and Secret are required; the zero
// value of every other field is a sensible default.
type WebhookConfig struct {
	// URL is where events are POSTed (an absolute http(s) URL).
	URL string
	// Secret is the signing secret in the whsec_<base64> form.
	Secret string
	// Client sends the requests; nil means a client that follows no
	// redirect (a redirect answer is a failed delivery).
	Client *http.Client
	// Timeout bounds one delivery attempt; zero means 10 s.
	Timeout time.Duration
	// Now stamps the webhook-timestamp header; nil means time.Now. It must
	// be the real time: receivers check it against their clock.
	Now func() time.Time
}

// Webhook is the Sink that POSTs each event as JSON to a URL, signed per
// Standard Webhooks (headers webhook-id, webhook-timestamp and
// webhook-signature). Any 2xx answer delivers the event; anything else is a
// *DeliveryError, and the sender tries again later with the same event id.
type Webhook struct {
	url     string
	key     []byte
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
}

var _ Sink = (*Webhook)(nil)

// NewWebhook checks cfg and returns a Webhook. Its errors never quote the
// secret.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("events: the webhook URL must be an absolute http(s) URL without user info")
	}
	key, err := ParseSecret(cfg.Secret)
	if err != nil {
		return nil, err
	}
	w := &Webhook{url: cfg.URL, key: key, client: cfg.Client, timeout: cfg.Timeout, now: cfg.Now}
	if w.client == nil {
		w.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if w.timeout <= 0 {
		w.timeout = 10 * time.Second
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

// DeliveryError is a failed delivery attempt: the receiver's HTTP status, or
// the kind of network failure. It never holds the URL (which may carry a
// token), the body or the receiver's answer.
type DeliveryError struct {
	// Status is the receiver's HTTP status; 0 when no answer came.
	Status int
	// Reason classifies a failure without answer: "timeout",
	// "connection", "cancelled".
	Reason string
	// RetryAfter is what the receiver asked for with Retry-After (429 and
	// 503), zero otherwise.
	RetryAfter time.Duration
}

// Error implements error.
func (e *DeliveryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("events: receiver answered %d", e.Status)
	}
	return "events: delivery failed: " + e.Reason
}

// RetryDelay returns RetryAfter, so that ohx.RetryAfter (and the retry
// delays built on it) honour the receiver's request.
func (e *DeliveryError) RetryDelay() time.Duration { return e.RetryAfter }

// Kind returns a short bounded description ("http 500", "timeout"), for
// logs, metrics and the outbox.
func (e *DeliveryError) Kind() string {
	if e.Status != 0 {
		return "http " + strconv.Itoa(e.Status)
	}
	return e.Reason
}

// Deliver implements Sink: one signed POST of e.
func (w *Webhook) Deliver(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("events: encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("events: cannot build the delivery request")
	}
	at := w.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ohx-events/1")
	req.Header.Set(HeaderID, e.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(w.key, e.ID, at, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return &DeliveryError{Reason: networkReason(ctx, err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	de := &DeliveryError{Status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		de.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), at)
	}
	return de
}

// networkReason classifies a transport failure without its text (which
// quotes the URL).
func networkReason(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "connection"
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date,
// capped at an hour.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// Handler returns an http.Handler for a receiver written in Go: it reads the
// body (at most 1 MiB), verifies it with Verify under the secret (whsec_
// form), decodes the event and hands it to fn. It answers 204 when fn
// returns nil, 500 when fn fails (the sender tries again with the same
// event id), 401 for a bad signature and 400 for a body that is not an
// event. It returns an error for a malformed secret.
func Handler(secret string, fn func(ctx context.Context, e Event) error) (http.Handler, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusBadRequest)
			return
		}
		if err := Verify(key, r.Header, body, time.Now()); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var e Event
		if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.Type == "" {
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		if e.ID != r.Header.Get(HeaderID) {
			http.Error(w, "event id does not match webhook-id", http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), e); err != nil {
			http.Error(w, "not processed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), nil
}
