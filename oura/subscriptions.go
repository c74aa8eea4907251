package oura

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
)

// Subscription is one webhook subscription of the application.
type Subscription struct {
	// ID is Oura's id of the subscription.
	ID string
	// CallbackURL is where Oura delivers.
	CallbackURL string
	// EventType is "create", "update" or "delete".
	EventType string
	// DataType is Oura's data type ("sleep", "daily_activity", …).
	DataType string
	// Expires is when the subscription ends unless renewed (zero when Oura
	// did not say). Zone-less times are read as UTC.
	Expires time.Time
}

func subscriptionOf(s wire.Subscription) Subscription {
	sub := Subscription{ID: s.ID, CallbackURL: s.CallbackURL, EventType: s.EventType, DataType: s.DataType}
	if !s.ExpirationTime.IsZero() {
		sub.Expires = s.ExpirationTime.UTC()
	}
	return sub
}

const subscriptionPath = "/v2/webhook/subscription"

// subRequest sends a subscription API call with the application's
// credentials (x-client-id, x-client-secret; never a user's token).
func (p *Provider) subRequest(ctx context.Context, op, method, path string, body, out any, idempotent bool) error {
	h := http.Header{}
	h.Set("x-client-id", p.cfg.ClientID)
	h.Set("x-client-secret", p.cfg.ClientSecret)
	return p.do(ctx, request{op: op, client: p.subs, method: method, path: path, body: body, header: h, idempotent: idempotent}, out)
}

// subscriptionID checks an id before it goes into a path.
func subscriptionID(id string) (string, error) {
	if id == "" || len(id) > 100 || strings.ContainsAny(id, "/?#%\\ ") {
		return "", errors.New("oura: invalid subscription id")
	}
	return url.PathEscape(id), nil
}

// ListSubscriptions returns the application's subscriptions.
func (p *Provider) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	var list []wire.Subscription
	if err := p.subRequest(ctx, "webhook.list", http.MethodGet, subscriptionPath, nil, &list, true); err != nil {
		return nil, err
	}
	out := make([]Subscription, 0, len(list))
	for _, s := range list {
		out = append(out, subscriptionOf(s))
	}
	return out, nil
}

// CreateSubscription subscribes WebhookConfig.CallbackURL to one event type
// of one data type. Oura calls the callback to verify it (WebhookHandler
// answers with the verification token) before it answers, which may take a
// minute; a creation that timed out may still have succeeded, which the
// next EnsureSubscriptions finds. It is sent once (not idempotent).
func (p *Provider) CreateSubscription(ctx context.Context, eventType, dataType string) (Subscription, error) {
	wh := &p.cfg.Webhook
	switch {
	case wh.CallbackURL == "" || wh.VerificationToken == "":
		return Subscription{}, errors.New("oura: creating a subscription needs Webhook.CallbackURL and Webhook.VerificationToken")
	case !validDataType(dataType):
		return Subscription{}, fmt.Errorf("oura: unknown webhook data type %q", dataType)
	case eventType != "create" && eventType != "update" && eventType != "delete":
		return Subscription{}, fmt.Errorf("oura: unknown webhook event type %q", eventType)
	}
	var s wire.Subscription
	err := p.subRequest(ctx, "webhook.create", http.MethodPost, subscriptionPath,
		wire.CreateSubscription{CallbackURL: wh.CallbackURL, VerificationToken: wh.VerificationToken, EventType: eventType, DataType: dataType}, &s, false)
	if err != nil {
		return Subscription{}, err
	}
	return subscriptionOf(s), nil
}

// RenewSubscription extends a subscription's life and returns it with its
// new expiry.
func (p *Provider) RenewSubscription(ctx context.Context, id string) (Subscription, error) {
	esc, err := subscriptionID(id)
	if err != nil {
		return Subscription{}, err
	}
	var s wire.Subscription
	if err := p.subRequest(ctx, "webhook.renew", http.MethodPut, subscriptionPath+"/renew/"+esc, nil, &s, true); err != nil {
		return Subscription{}, err
	}
	if s.ID == "" {
		s.ID = id
	}
	return subscriptionOf(s), nil
}

// DeleteSubscription deletes a subscription. An id Oura does not know
// (answered 403 per its specification, 404 as seen) counts as deleted.
func (p *Provider) DeleteSubscription(ctx context.Context, id string) error {
	esc, err := subscriptionID(id)
	if err != nil {
		return err
	}
	err = p.subRequest(ctx, "webhook.delete", http.MethodDelete, subscriptionPath+"/"+esc, nil, nil, true)
	if gone(err) {
		return nil
	}
	return err
}

// gone reports whether err says the subscription does not exist.
func gone(err error) bool {
	var pe *ohx.ProviderError
	return errors.As(err, &pe) && (pe.HTTPStatus == http.StatusNotFound || pe.HTTPStatus == http.StatusForbidden)
}

// PolledTypes returns the offered data types that no subscribed webhook
// announces: heart rate, which Oura has no webhook for, and the types of
// any data type left out of WebhookConfig.DataTypes. Links that wait for
// webhooks need these polled; ohx's server polls them hourly for realtime
// links (server.PolledTypes).
func (p *Provider) PolledTypes() []ohx.DataType {
	announced := map[ohx.DataType]bool{}
	for _, dt := range p.cfg.Webhook.DataTypes {
		for _, t := range eventTypes(dt) {
			announced[t] = true
		}
	}
	var out []ohx.DataType
	for _, t := range offered {
		if !announced[t] {
			out = append(out, t)
		}
	}
	return out
}

// SubscriptionReport says what EnsureSubscriptions did.
type SubscriptionReport struct {
	// Created, Renewed and Kept are the subscriptions of the callback URL
	// after the run, by what happened to them.
	Created, Renewed, Kept []Subscription
	// NextRenewal is when EnsureSubscriptions should run again at the
	// latest: the earliest expiry minus RenewBefore (zero when no
	// subscription has an expiry). A daily schedule is ample.
	NextRenewal time.Time
}

// EnsureSubscriptions makes the application's subscriptions match the
// configuration, for a scheduler to call at start-up and then daily (see
// SubscriptionReport.NextRenewal): every pair of WebhookConfig.DataTypes and
// event type (create, update, delete) is subscribed to
// WebhookConfig.CallbackURL; a subscription expiring within
// WebhookConfig.RenewBefore, or already expired, is renewed (and created
// again when Oura no longer knows it). Subscriptions to other callback URLs,
// another deployment's, are never touched. Every pair is tried; the error
// joins the failures.
func (p *Provider) EnsureSubscriptions(ctx context.Context) (SubscriptionReport, error) {
	var rep SubscriptionReport
	wh := &p.cfg.Webhook
	if wh.CallbackURL == "" {
		return rep, errors.New("oura: subscriptions need Webhook.CallbackURL")
	}
	existing, err := p.ListSubscriptions(ctx)
	if err != nil {
		return rep, err
	}
	now := p.now()
	var errs []error
	note := func(s Subscription) {
		if s.Expires.IsZero() {
			return
		}
		if at := s.Expires.Add(-wh.RenewBefore); rep.NextRenewal.IsZero() || at.Before(rep.NextRenewal) {
			rep.NextRenewal = at
		}
	}
	for _, dt := range wh.DataTypes {
		for _, et := range eventKinds {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			var mine *Subscription
			for i := range existing {
				s := &existing[i]
				if strings.EqualFold(s.DataType, dt) && strings.EqualFold(s.EventType, et) && s.CallbackURL == wh.CallbackURL {
					mine = s
					break
				}
			}
			if mine != nil && !mine.Expires.IsZero() && mine.Expires.Sub(now) > wh.RenewBefore {
				rep.Kept = append(rep.Kept, *mine)
				note(*mine)
				continue
			}
			if mine != nil {
				s, err := p.RenewSubscription(ctx, mine.ID)
				if err == nil {
					rep.Renewed = append(rep.Renewed, s)
					note(s)
					continue
				}
				if !gone(err) {
					errs = append(errs, fmt.Errorf("oura: renew %s/%s: %w", dt, et, err))
					continue
				}
			}
			s, err := p.CreateSubscription(ctx, et, dt)
			if err != nil {
				errs = append(errs, fmt.Errorf("oura: subscribe %s/%s: %w", dt, et, err))
				continue
			}
			rep.Created = append(rep.Created, s)
			note(s)
		}
	}
	return rep, errors.Join(errs...)
}
