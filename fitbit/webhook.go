package fitbit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// civilSlack widens a window known only in civil (zone-less) time so it
// covers every UTC offset.
const civilSlack = 14 * time.Hour

// WebhookHandler implements ohx.WebhookReceiver. The handler answers
//
//   - the verification handshake ({"type":"verification"}): 201 when the
//     Authorization header is exactly the configured secret (compared in
//     constant time), else 401;
//   - a data notification: accepted when its signature header verifies
//     against Google's public keyset (and, if it also carries an
//     Authorization header, that header matches the secret), or, without a
//     signature header, when its Authorization header matches the secret;
//     otherwise 401 and nothing is handed on. A request with neither a
//     signature nor the secret never touches the keyset. When no usable
//     keyset can be had (never fetched or too stale, and the fetch failed
//     or is backing off) a signed request gets 503, so Google retries it.
//   - an accepted notification is handed to notify (bounded by
//     Config.WebhookNotifyTimeout) and answered 204 only when notify
//     returned nil for each of its items: they are durable. Otherwise the
//     answer is 503 with Retry-After; Google retries any answer but 2xx with
//     exponential backoff for up to 7 days.
//   - a signed delivery already made durable (the same signature and body
//     within Config.WebhookReplayWindow) is answered 204 without calling
//     notify. Its mark is recorded only after notify succeeded, so a
//     delivery answered 503 gets through when Google retries it.
//
// Bodies above Config.MaxWebhookBody get 413; bodies that are not a
// notification get 400.
func (p *Provider) WebhookHandler(notify ohx.NotifyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := p.serveWebhook(w, r, notify)
		p.cfg.Metrics.WebhookRequest(Name, status)
	})
}

func (p *Provider) serveWebhook(w http.ResponseWriter, r *http.Request, notify ohx.NotifyFunc) int {
	reply := func(status int) int {
		w.WriteHeader(status)
		return status
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return reply(http.StatusMethodNotAllowed)
	}
	body, status, err := provider.ReadBody(w, r, p.cfg.MaxWebhookBody)
	if err != nil {
		return reply(status)
	}
	auth := r.Header.Get("Authorization")
	if isVerification(body) {
		if p.secretMatches(auth) {
			return reply(http.StatusCreated)
		}
		return reply(http.StatusUnauthorized)
	}
	sig := r.Header.Get(signatureHeader)
	if sig == "" {
		sig = r.Header.Get(legacySignatureHeader)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), p.cfg.WebhookNotifyTimeout)
	defer cancel()
	switch {
	case sig != "":
		if err := p.keys.verify(ctx, sig, body); err != nil {
			p.log.Warn("webhook signature rejected", zap.String("reason", err.Error()))
			if errors.Is(err, errNoKeyset) {
				return provider.RetryLater(w)
			}
			return reply(http.StatusUnauthorized)
		}
		if auth != "" && p.cfg.WebhookSecret != "" && !p.secretMatches(auth) {
			return reply(http.StatusUnauthorized)
		}
	case !p.secretMatches(auth):
		return reply(http.StatusUnauthorized)
	}
	var mark string
	if sig != "" {
		mark = provider.ReplayKey(sig, body)
		seen, err := p.replays.Seen(ctx, mark)
		switch {
		case err != nil:
			// Go on: a duplicate costs a coalesced job, a refusal a delay.
			p.log.Warn("webhook replay check failed", zap.Error(err))
		case seen:
			p.log.Debug("replayed webhook delivery acknowledged without a new notification")
			return reply(http.StatusNoContent)
		}
	}
	ns, err := parseNotifications(body, p.cfg.Now())
	if err != nil {
		p.log.Warn("webhook body rejected", zap.String("reason", err.Error()))
		return reply(http.StatusBadRequest)
	}
	if err := provider.Notify(ctx, notify, ns...); err != nil {
		p.log.Warn("webhook notification not queued; asking Google to retry", zap.Error(err))
		return provider.RetryLater(w)
	}
	if mark != "" {
		if err := p.replays.Mark(ctx, mark, p.cfg.WebhookReplayWindow); err != nil {
			p.log.Warn("webhook replay mark not recorded", zap.Error(err))
		}
	}
	return reply(http.StatusNoContent)
}

func (p *Provider) secretMatches(auth string) bool {
	return provider.SecretEqual(auth, p.cfg.WebhookSecret)
}

func isVerification(body []byte) bool {
	var v struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(body, &v) == nil && v.Type == "verification"
}

// notificationData is the data object of a Google Health notification.
type notificationData struct {
	Version      json.RawMessage    `json:"version"`
	HealthUserID string             `json:"healthUserId"`
	Operation    string             `json:"operation"`
	DataType     string             `json:"dataType"`
	Intervals    []notificationSpan `json:"intervals"`
}

type notificationSpan struct {
	PhysicalTimeInterval *struct {
		StartTime time.Time `json:"startTime"`
		EndTime   time.Time `json:"endTime"`
	} `json:"physicalTimeInterval"`
	CivilDateTimeInterval *struct {
		StartDateTime *wire.CivilDateTime `json:"startDateTime"`
		EndDateTime   *wire.CivilDateTime `json:"endDateTime"`
	} `json:"civilDateTimeInterval"`
	CivilIso8601TimeInterval json.RawMessage `json:"civilIso8601TimeInterval"`
}

// parseNotifications reads a notification body leniently: a {"data":…}
// object, an array of them, or a bare data object; operation UPSERT or
// UPDATE (data) or DELETE; intervals in physical, civil or ISO-8601 civil
// form, or none. Civil-only intervals are widened by 14 hours on each side
// because the zone is unknown here. Notifications of data types the provider
// does not read are dropped. received stamps each notification.
func parseNotifications(body []byte, received time.Time) ([]ohx.Notification, error) {
	body = bytes.TrimSpace(body)
	var items []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, errors.New("fitbit: notification array is not JSON")
		}
	case len(body) > 0 && body[0] == '{':
		items = []json.RawMessage{body}
	default:
		return nil, errors.New("fitbit: notification is not a JSON object or array")
	}
	var out []ohx.Notification
	for _, it := range items {
		var env struct {
			Data *notificationData `json:"data"`
		}
		if err := json.Unmarshal(it, &env); err != nil {
			return nil, errors.New("fitbit: notification is not valid JSON")
		}
		d := env.Data
		if d == nil {
			d = &notificationData{}
			if err := json.Unmarshal(it, d); err != nil {
				return nil, errors.New("fitbit: notification is not valid JSON")
			}
		}
		if d.HealthUserID == "" {
			return nil, errors.New("fitbit: notification names no healthUserId")
		}
		n := ohx.Notification{Provider: Name, ExternalUserID: d.HealthUserID, Received: received}
		switch strings.ToUpper(d.Operation) {
		case "UPSERT", "UPDATE", "INSERT", "CREATE":
			n.Kind = ohx.NotifyData
		case "DELETE":
			n.Kind = ohx.NotifyDelete
		default:
			return nil, errors.New("fitbit: notification has an unknown operation")
		}
		g := googleTypeByID(kebab(d.DataType))
		if g == nil {
			continue
		}
		n.DataTypes = append(n.DataTypes, g.Yields...)
		for _, iv := range d.Intervals {
			n.Window = n.Window.Union(spanWindow(iv))
		}
		out = append(out, n)
	}
	return out, nil
}

func spanWindow(iv notificationSpan) ohx.Window {
	if pt := iv.PhysicalTimeInterval; pt != nil && !pt.StartTime.IsZero() && !pt.EndTime.IsZero() {
		w := ohx.Window{Start: pt.StartTime.UTC(), End: pt.EndTime.UTC()}
		if !w.End.After(w.Start) {
			w.End = w.Start.Add(time.Second)
		}
		return w
	}
	var start, end time.Time
	if c := iv.CivilDateTimeInterval; c != nil {
		start, end = civilTime(c.StartDateTime), civilTime(c.EndDateTime)
	}
	if start.IsZero() || end.IsZero() {
		start, end = iso8601Interval(iv.CivilIso8601TimeInterval)
	}
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return ohx.Window{}
	}
	return ohx.Window{Start: start.Add(-civilSlack), End: end.Add(civilSlack)}
}

func civilTime(c *wire.CivilDateTime) time.Time {
	if c == nil || !c.Date.Valid() {
		return time.Time{}
	}
	t := time.Date(c.Date.Year, time.Month(c.Date.Month), c.Date.Day, 0, 0, 0, 0, time.UTC)
	return t.Add(time.Duration(c.Time.Hours)*time.Hour + time.Duration(c.Time.Minutes)*time.Minute + time.Duration(c.Time.Seconds)*time.Second)
}

// iso8601Interval reads {"startTime":"…","endTime":"…"} or "start/end",
// with dates or zone-less date-times.
func iso8601Interval(raw json.RawMessage) (start, end time.Time) {
	if len(raw) == 0 {
		return
	}
	var a, b string
	var obj struct {
		StartTime string `json:"startTime"`
		EndTime   string `json:"endTime"`
	}
	var s string
	switch {
	case json.Unmarshal(raw, &obj) == nil:
		a, b = obj.StartTime, obj.EndTime
	case json.Unmarshal(raw, &s) == nil:
		a, b, _ = strings.Cut(s, "/")
	}
	parse := func(v string) time.Time {
		for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02", time.RFC3339Nano} {
			if t, err := time.Parse(layout, v); err == nil {
				return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			}
		}
		return time.Time{}
	}
	return parse(strings.TrimSpace(a)), parse(strings.TrimSpace(b))
}

// kebab turns "heartRate", "heart_rate" or "heart-rate" into "heart-rate";
// a "users/…/dataTypes/x" name gives x.
func kebab(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_':
			b.WriteByte('-')
		case unicode.IsUpper(r):
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
