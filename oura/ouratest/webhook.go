package ouratest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/internal/fakeprovider"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// subscription is a webhook subscription of the application.
type subscription struct {
	id, callback, token, eventType, dataType string
	expires                                  time.Time
}

// Subscription is a webhook subscription as the fake holds it.
type Subscription struct {
	ID, CallbackURL, EventType, DataType string
	Expires                              time.Time
}

// dataTypes is the data_type enum of Oura's OpenAPI 1.37.
var dataTypes = []string{"tag", "enhanced_tag", "workout", "session", "sleep", "daily_sleep", "daily_readiness",
	"daily_activity", "daily_spo2", "sleep_time", "rest_mode_period", "ring_configuration", "daily_stress",
	"daily_cardiovascular_age", "daily_resilience", "vo2_max", "meal"}

var eventTypes = []string{"create", "update", "delete"}

func (s *Server) wireSubscription(sub *subscription) any {
	if s.cfg.ZonelessExpiry {
		return map[string]string{"id": sub.id, "callback_url": sub.callback, "event_type": sub.eventType, "data_type": sub.dataType,
			"expiration_time": sub.expires.UTC().Format("2006-01-02T15:04:05")}
	}
	return wire.Subscription{ID: sub.id, CallbackURL: sub.callback, EventType: sub.eventType, DataType: sub.dataType, ExpirationTime: wire.Time{Time: sub.expires.UTC()}}
}

// Subscriptions returns the application's subscriptions.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, Subscription{ID: sub.id, CallbackURL: sub.callback, EventType: sub.eventType, DataType: sub.dataType, Expires: sub.expires})
	}
	return out
}

// SetSubscriptionExpiry changes a subscription's expiry (to test renewals).
func (s *Server) SetSubscriptionExpiry(id string, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub.id == id {
			sub.expires = t
			return true
		}
	}
	return false
}

// appAuth checks the x-client-id and x-client-secret headers.
func (s *Server) appAuth(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("x-client-id") != s.cfg.ClientID || subtle.ConstantTimeCompare([]byte(r.Header.Get("x-client-secret")), []byte(s.cfg.ClientSecret)) != 1 {
		detail(w, http.StatusUnauthorized, "Invalid client credentials.")
		return false
	}
	return true
}

// subscriptions serves GET (list) and POST (create) /v2/webhook/subscription.
func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.count("webhook.list")
		if !s.appAuth(w, r) {
			return
		}
		s.mu.Lock()
		list := make([]any, 0, len(s.subs))
		for _, sub := range s.subs {
			list = append(list, s.wireSubscription(sub))
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, list)
	case http.MethodPost:
		s.count("webhook.create")
		if !s.appAuth(w, r) {
			return
		}
		s.create(w, r)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// enumError writes Oura's 422 for a value outside an enum.
func enumError(w http.ResponseWriter, field, input string, allowed []string) {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	list := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []wire.ValidationError{{
		Type: "enum", Loc: []any{"body", field}, Msg: "Input should be " + list, In: mustJSON(input), Ctx: mustJSON(map[string]string{"expected": list}),
	}}})
}

// create verifies the callback (GET ?verification_token&challenge, which
// must answer 200 {"challenge": …}) and then creates the subscription: 201.
// A pair already subscribed answers 409 and a failed verification 400
// (both assumed: Oura does not document them).
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var in wire.CreateSubscription
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		detail(w, http.StatusBadRequest, "Invalid JSON body.")
		return
	}
	switch {
	case !slices.Contains(eventTypes, in.EventType):
		enumError(w, "event_type", in.EventType, eventTypes)
		return
	case !slices.Contains(dataTypes, in.DataType):
		enumError(w, "data_type", in.DataType, dataTypes)
		return
	}
	cb, err := url.Parse(in.CallbackURL)
	if err != nil || (cb.Scheme != "https" && cb.Scheme != "http") || cb.Host == "" {
		detail(w, http.StatusBadRequest, "Invalid callback_url.")
		return
	}
	s.mu.Lock()
	for _, sub := range s.subs {
		if sub.eventType == in.EventType && sub.dataType == in.DataType {
			s.mu.Unlock()
			detail(w, http.StatusConflict, "A subscription for this event_type and data_type already exists.")
			return
		}
	}
	s.mu.Unlock()
	if err := s.verify(r.Context(), in.CallbackURL, in.VerificationToken); err != nil {
		detail(w, http.StatusBadRequest, "Webhook verification failed.")
		return
	}
	sub := &subscription{id: newUUID(), callback: in.CallbackURL, token: in.VerificationToken, eventType: in.EventType, dataType: in.DataType,
		expires: s.cfg.Now().Add(s.cfg.SubscriptionTTL)}
	s.mu.Lock()
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, s.wireSubscription(sub))
}

func newUUID() string {
	b := []byte(fakeprovider.RandomID(16))
	return string(b[0:8]) + "-" + string(b[8:12]) + "-4" + string(b[13:16]) + "-a" + string(b[17:20]) + "-" + string(b[20:32])
}

// verify makes Oura's verification call to a callback.
func (s *Server) verify(ctx context.Context, callback, token string) error {
	s.count("verify")
	challenge := fakeprovider.RandomID(12)
	u, err := url.Parse(callback)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("verification_token", token)
	q.Set("challenge", challenge)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := s.cfg.CallbackClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Challenge string `json:"challenge"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body) != nil || body.Challenge != challenge {
		return errors.New("ouratest: verification failed")
	}
	return nil
}

// subscription serves GET, PUT and DELETE /v2/webhook/subscription/{id}
// and PUT /v2/webhook/subscription/renew/{id}.
func (s *Server) subscription(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/webhook/subscription/")
	renew := false
	if id, ok := strings.CutPrefix(rest, "renew/"); ok {
		rest, renew = id, true
	}
	op := map[string]string{http.MethodGet: "webhook.get", http.MethodPut: "webhook.update", http.MethodDelete: "webhook.delete"}[r.Method]
	if renew {
		op = "webhook.renew"
	}
	if op == "" || (renew && r.Method != http.MethodPut) {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	s.count(op)
	if !s.appAuth(w, r) {
		return
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.subs, func(sub *subscription) bool { return sub.id == rest })
	if i < 0 {
		s.mu.Unlock()
		detail(w, s.cfg.UnknownSubscriptionStatus, "Subscription not found.")
		return
	}
	sub := s.subs[i]
	switch {
	case renew:
		sub.expires = s.cfg.Now().Add(s.cfg.SubscriptionTTL)
	case r.Method == http.MethodDelete:
		s.subs = slices.Delete(s.subs, i, i+1)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	case r.Method == http.MethodPut:
		var in wire.CreateSubscription
		if json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in) != nil || in.VerificationToken == "" {
			s.mu.Unlock()
			detail(w, http.StatusBadRequest, "verification_token is required.")
			return
		}
		if in.CallbackURL != "" {
			sub.callback = in.CallbackURL
		}
	}
	out := s.wireSubscription(sub)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// Event is a webhook event the fake delivers.
type Event struct {
	EventType, DataType, ObjectID, UserID string
	// EventTime is when the event happened; zero means Config.Now.
	EventTime time.Time
}

// Body returns the event's JSON body, as Oura sends it.
func (e Event) Body() []byte {
	b, _ := json.Marshal(wire.Event{EventType: e.EventType, DataType: e.DataType, ObjectID: e.ObjectID, EventTime: wire.Time{Time: e.EventTime.UTC()}, UserID: e.UserID})
	return b
}

// Sign returns the signature headers of a delivery body signed at time at:
// x-oura-timestamp (Unix seconds) and x-oura-signature, the upper-case hex
// HMAC-SHA256 under the client secret of the timestamp followed by the body.
func (s *Server) Sign(body []byte, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	h := http.Header{}
	h.Set("x-oura-timestamp", ts)
	h.Set("x-oura-signature", provider.SignHMACSHA256([]byte(s.cfg.ClientSecret), []byte(ts), body))
	return h
}

// Delivery is the outcome of delivering an event to one subscription.
type Delivery struct {
	SubscriptionID string
	// Status is the callback's HTTP status; 0 when the request failed.
	Status int
	Err    error
}

// EventFor returns an event about the document of collection (a webhook
// data type: "sleep", "daily_activity", …) that the user's civil day holds
// (its long_sleep for sleep), at Config.Now.
func (s *Server) EventFor(userID, eventType, dataType string, day time.Time) (Event, error) {
	s.mu.Lock()
	u := s.userLocked(userID)
	s.mu.Unlock()
	if u == nil {
		return Event{}, errors.New("ouratest: unknown user")
	}
	name := dataType
	if name == "vo2_max" {
		name = "vO2_max"
	}
	docs := s.docs(u, name, wire.DateOf(day.In(u.loc)))
	if len(docs) == 0 {
		return Event{}, fmt.Errorf("ouratest: no %s document that day", dataType)
	}
	return Event{EventType: eventType, DataType: dataType, ObjectID: docs[0].id, UserID: u.ID, EventTime: s.cfg.Now()}, nil
}

// Deliver sends the event, signed at Config.Now, to every subscription of
// its event and data type, and returns each outcome. A callback answering
// 410 cancels its subscription, as Oura does.
func (s *Server) Deliver(ctx context.Context, e Event) []Delivery {
	if e.EventTime.IsZero() {
		e.EventTime = s.cfg.Now()
	}
	body := e.Body()
	s.mu.Lock()
	var targets []subscription
	for _, sub := range s.subs {
		if sub.eventType == e.EventType && sub.dataType == e.DataType {
			targets = append(targets, *sub)
		}
	}
	s.mu.Unlock()
	var out []Delivery
	for _, sub := range targets {
		s.count("deliver")
		d := Delivery{SubscriptionID: sub.id}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.callback, bytes.NewReader(body))
		if err != nil {
			d.Err = err
			out = append(out, d)
			continue
		}
		req.Header = s.Sign(body, s.cfg.Now())
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.cfg.CallbackClient.Do(req)
		if err != nil {
			d.Err = err
			out = append(out, d)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		d.Status = resp.StatusCode
		if resp.StatusCode == http.StatusGone {
			s.mu.Lock()
			s.subs = slices.DeleteFunc(s.subs, func(x *subscription) bool { return x.id == sub.id })
			s.mu.Unlock()
		}
		out = append(out, d)
	}
	return out
}
