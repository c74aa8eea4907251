package fitbit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// Subscribers manages the project-level webhook subscriber of the Google
// Health API (projects.subscribers). It is an operator tool: its HTTP client
// must carry credentials with the cloud-platform scope for the Google Cloud
// project (a service account), not a user's token. A typical setup is one
// subscriber with the AUTOMATIC policy for every data type the provider
// reads, created once after the webhook endpoint is deployed (Google
// verifies the endpoint during create).
type Subscribers struct {
	// Client sends the requests; it must add the project credentials.
	Client *http.Client
	// BaseURL is the API root; empty means DefaultAPIBaseURL.
	BaseURL string
	// ProjectNumber is the Google Cloud project number (not its id).
	ProjectNumber string
}

// Subscriber is a registered webhook endpoint.
type Subscriber struct {
	// Name is "projects/{number}/subscribers/{id}".
	Name string
	// EndpointURI is the HTTPS endpoint notifications go to.
	EndpointURI string
	// DataTypes are the kebab-case data types with AUTOMATIC subscriptions.
	DataTypes []string
	// State is UNVERIFIED, ACTIVE or INACTIVE.
	State string
	// SecretSet reports whether an Authorization secret is configured.
	SecretSet bool
}

// WebhookDataTypes returns the Google data types the provider can be
// notified about (those it reads, except the ones Google does not notify:
// oxygen-saturation and electrocardiogram).
func WebhookDataTypes() []string {
	var out []string
	for _, g := range googleTypes {
		if g.ID == "oxygen-saturation" || g.ID == "electrocardiogram" {
			continue
		}
		out = append(out, g.ID)
	}
	return out
}

// Create registers a subscriber with id, endpoint and Authorization secret
// (the full header value, e.g. "Bearer …") and AUTOMATIC subscriptions for
// dataTypes (WebhookDataTypes when empty).
func (s *Subscribers) Create(ctx context.Context, id, endpoint, secret string, dataTypes []string) (Subscriber, error) {
	if len(dataTypes) == 0 {
		dataTypes = WebhookDataTypes()
	}
	body := wire.Subscriber{
		EndpointURI:           endpoint,
		SubscriberConfigs:     []wire.SubscriberConfig{{DataTypes: dataTypes, SubscriptionCreatePolicy: "AUTOMATIC"}},
		EndpointAuthorization: &wire.EndpointAuthorization{Secret: secret},
	}
	var out wire.Subscriber
	err := s.do(ctx, http.MethodPost, s.parent()+"/subscribers", url.Values{"subscriberId": {id}}, body, &out)
	return subscriberOf(out), err
}

// List returns the project's subscribers, every page.
func (s *Subscribers) List(ctx context.Context) ([]Subscriber, error) {
	var out []Subscriber
	q := url.Values{"pageSize": {"1000"}}
	for {
		var page wire.SubscribersResponse
		if err := s.do(ctx, http.MethodGet, s.parent()+"/subscribers", q, nil, &page); err != nil {
			return nil, err
		}
		for _, sub := range page.Subscribers {
			out = append(out, subscriberOf(sub))
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		q.Set("pageToken", page.NextPageToken)
	}
}

// Patch replaces the subscriber's endpoint, data types (AUTOMATIC) and
// secret; empty arguments are left unchanged.
func (s *Subscribers) Patch(ctx context.Context, id, endpoint, secret string, dataTypes []string) (Subscriber, error) {
	var body wire.Subscriber
	var mask []string
	if endpoint != "" {
		body.EndpointURI = endpoint
		mask = append(mask, "endpointUri")
	}
	if len(dataTypes) > 0 {
		body.SubscriberConfigs = []wire.SubscriberConfig{{DataTypes: dataTypes, SubscriptionCreatePolicy: "AUTOMATIC"}}
		mask = append(mask, "subscriberConfigs")
	}
	if secret != "" {
		body.EndpointAuthorization = &wire.EndpointAuthorization{Secret: secret}
		mask = append(mask, "endpointAuthorization")
	}
	if len(mask) == 0 {
		return Subscriber{}, errors.New("fitbit: subscriber patch changes nothing")
	}
	var out wire.Subscriber
	err := s.do(ctx, http.MethodPatch, s.parent()+"/subscribers/"+url.PathEscape(id), url.Values{"updateMask": {strings.Join(mask, ",")}}, body, &out)
	return subscriberOf(out), err
}

// Delete removes the subscriber and (force) its subscriptions.
func (s *Subscribers) Delete(ctx context.Context, id string) error {
	return s.do(ctx, http.MethodDelete, s.parent()+"/subscribers/"+url.PathEscape(id), url.Values{"force": {"true"}}, nil, nil)
}

func (s *Subscribers) parent() string { return "projects/" + url.PathEscape(s.ProjectNumber) }

func (s *Subscribers) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	if s.Client == nil || s.ProjectNumber == "" {
		return errors.New("fitbit: subscribers need a client and a project number")
	}
	base := s.BaseURL
	if base == "" {
		base = DefaultAPIBaseURL
	}
	u := strings.TrimSuffix(base, "/") + "/v4/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("fitbit: encode subscriber: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return errors.New("fitbit: build subscriber request")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fitbit: subscribers %s: request failed", method)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return classify("subscribers."+strings.ToLower(method), resp)
	}
	if out == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return errors.New("fitbit: read subscriber response")
	}
	// create and patch answer a long-running Operation in the discovery
	// document and the Subscriber itself in the guide: accept both.
	var op struct {
		Name     string          `json:"name"`
		Done     *bool           `json:"done"`
		Response json.RawMessage `json:"response"`
	}
	if sub, ok := out.(*wire.Subscriber); ok && json.Unmarshal(b, &op) == nil && op.Done != nil {
		if len(op.Response) > 0 {
			return json.Unmarshal(op.Response, sub)
		}
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("fitbit: decode subscriber response: %w", err)
	}
	return nil
}

func subscriberOf(w wire.Subscriber) Subscriber {
	s := Subscriber{Name: w.Name, EndpointURI: w.EndpointURI, State: w.State}
	for _, c := range w.SubscriberConfigs {
		if c.SubscriptionCreatePolicy == "AUTOMATIC" {
			s.DataTypes = append(s.DataTypes, c.DataTypes...)
		}
	}
	if a := w.EndpointAuthorization; a != nil {
		s.SecretSet = a.SecretSet || a.AuthorizationTokenSet
	}
	return s
}
