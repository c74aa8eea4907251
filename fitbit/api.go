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
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// maxErrorBody bounds how much of an error body is classified.
const maxErrorBody = 64 << 10

// request is one call of the Google Health API.
type request struct {
	op     string // "dataPoints.list"
	method string
	path   string // below v4/, e.g. "users/me/identity"
	query  url.Values
	body   any
	// token, when set, is used instead of the link's stored token (right
	// after the code exchange).
	token string
}

// badJSON is the error of an answer that is not the JSON expected. It
// carries no part of the body (health values).
func badJSON(op string, status int) error {
	return &ohx.ProviderError{Provider: Name, Op: op, Kind: ohx.KindTransient, HTTPStatus: status, Code: "bad-json", Err: errors.New("response is not the expected JSON")}
}

// call sends r for link through the toolkit client (token refresh under
// the store lock, breaker, per-user rate limit, retries of idempotent
// requests with Retry-After) and decodes the JSON answer into out.
func (p *Provider) call(ctx context.Context, link *ohx.Link, r request, out any) error {
	req, op, err := p.prepare(ctx, link, r)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(ctx, op, req)
	if err != nil {
		return err
	}
	if out == nil || len(resp.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return badJSON(r.op, resp.StatusCode)
	}
	return nil
}

// stream sends the GET r for link like call, and hands the successful
// answer's body to consume as it arrives (provider.Client.Stream: consume
// may run again on a retry and must start over).
func (p *Provider) stream(ctx context.Context, link *ohx.Link, r request, consume func(status int, body io.Reader) error) error {
	req, op, err := p.prepare(ctx, link, r)
	if err != nil {
		return err
	}
	return p.client.Stream(ctx, op, req, consume)
}

// prepare builds the HTTP request and the toolkit operation of r.
func (p *Provider) prepare(ctx context.Context, link *ohx.Link, r request) (*http.Request, provider.Op, error) {
	u := *p.api
	u.Path += "v4/" + r.path
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	var rd io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, provider.Op{}, fmt.Errorf("fitbit: encode %s request: %w", r.op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return nil, provider.Op{}, fmt.Errorf("fitbit: build %s request: %w", r.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	creds := provider.FreshToken(Name, r.token)
	if r.token == "" {
		if p.tokens == nil {
			return nil, provider.Op{}, &ohx.ProviderError{Provider: Name, Op: r.op, Kind: ohx.KindPermanent, Err: errors.New("no token store configured")}
		}
		creds = p.tokens.Source(link.ID)
	}
	user := link.ExternalUserID
	if user == "" {
		user = link.ID
	}
	return req, provider.Op{Name: r.op, Idempotent: r.method == http.MethodGet || r.method == http.MethodDelete, User: user, Credentials: creds}, nil
}

// classifyResponse is the toolkit Classifier of the Google Health API: it
// keys on the HTTP status, the google.rpc.Status status and its ErrorInfo
// reason. 403 is permanent (a missing scope or a legacy Fitbit-login
// account), not an authentication failure; Fetch turns the missing scope
// (ACCESS_TOKEN_SCOPE_INSUFFICIENT) into unavailable types.
func classifyResponse(op string, r *provider.Response) error {
	if r.StatusCode >= 200 && r.StatusCode < 300 {
		return nil
	}
	body := r.Body
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	return classifyStatus(op, r.StatusCode, r.Header, body)
}

// classify classifies an *http.Response read outside the toolkit client.
func classify(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return classifyStatus(op, resp.StatusCode, resp.Header, b)
}

func classifyStatus(op string, status int, h http.Header, body []byte) error {
	pe := &ohx.ProviderError{Provider: Name, Op: op, HTTPStatus: status}
	var st wire.Status
	if json.Unmarshal(body, &st) == nil {
		pe.Code = st.Error.Status
		if reason := st.Reason(); reason != "" {
			pe.Code += "/" + reason
		}
	}
	switch {
	case status == http.StatusUnauthorized:
		pe.Kind = ohx.KindAuth
	case status == http.StatusTooManyRequests:
		pe.Kind = ohx.KindRateLimited
		pe.RetryAfter, _ = resilience.ParseRetryAfter(h.Get("Retry-After"), time.Now())
	case status >= 500 || status == http.StatusRequestTimeout:
		pe.Kind = ohx.KindTransient
		pe.RetryAfter, _ = resilience.ParseRetryAfter(h.Get("Retry-After"), time.Now())
	case strings.Contains(pe.Code, "ACCOUNT_NOT_LINKED"):
		pe.Kind = ohx.KindNotLinked
	default:
		pe.Kind = ohx.KindPermanent
	}
	return pe
}
