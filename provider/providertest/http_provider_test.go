package providertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

// cloud is a small fake wearable cloud: a rotating OAuth token endpoint, a
// paged samples API and a devices API, answering with Google-style error
// bodies. It can be told to fail.
type cloud struct {
	fail atomic.Int32 // HTTP status every API call answers with; 0 means none

	mu      sync.Mutex
	refresh map[string]bool // live refresh tokens
	access  map[string]bool // live access tokens
	gen     int
}

const pageSize = 50

var cloudTypes = map[ohx.DataType]time.Duration{ohx.HeartRate: 5 * time.Minute, ohx.BodyWeight: 24 * time.Hour}

func (c *cloud) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", c.token)
	mux.HandleFunc("GET /v1/users/me/samples", c.authorized(c.samples))
	mux.HandleFunc("GET /v1/users/me/devices", c.authorized(c.devices))
	return mux
}

func (c *cloud) token(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	rt := r.PostFormValue("refresh_token")
	if !c.refresh[rt] {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	delete(c.refresh, rt)
	c.gen++
	at, next := fmt.Sprintf("at-%d", c.gen), fmt.Sprintf("rt-%d", c.gen)
	c.refresh[next], c.access[at] = true, true
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "refresh_token": next, "expires_in": 3600, "token_type": "Bearer"})
}

func (c *cloud) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		ok := c.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		c.mu.Unlock()
		status := int(c.fail.Load())
		if !ok {
			status = http.StatusUnauthorized
		}
		if status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"error":{"code":%d,"status":%q}}`, status, map[int]string{
				401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[status])
			return
		}
		h(w, r)
	}
}

type wireSample struct {
	Time  int64   `json:"t"`
	Value float64 `json:"v"`
}

type page struct {
	Samples []wireSample `json:"samples"`
	Next    string       `json:"nextPageToken,omitempty"`
}

func (c *cloud) samples(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	step, ok := cloudTypes[ohx.DataType(q.Get("type"))]
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	offset, _ := strconv.Atoi(q.Get("pageToken"))
	if !ok || err1 != nil || err2 != nil {
		http.Error(w, `{"error":{"code":400,"status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
		return
	}
	var p page
	first := (start + int64(step.Seconds()) - 1) / int64(step.Seconds()) * int64(step.Seconds())
	for at, i := first, 0; at < end; at, i = at+int64(step.Seconds()), i+1 {
		if i < offset {
			continue
		}
		if len(p.Samples) == pageSize {
			p.Next = strconv.Itoa(i)
			break
		}
		p.Samples = append(p.Samples, wireSample{Time: at, Value: float64(60 + at/300%40)})
	}
	_ = json.NewEncoder(w).Encode(p)
}

func (c *cloud) devices(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte(`{"devices":[{"id":"dev-1","model":"Band"},{"id":"dev-2","model":"Scale"}]}`))
}

// classify reads Google-style error bodies: the HTTP status gives the kind,
// the body's status the code.
func classify(op string, r *provider.Response) error {
	err := provider.ClassifyHTTP(op, r)
	var pe *ohx.ProviderError
	if errors.As(err, &pe) {
		var body struct {
			Error struct {
				Status string `json:"status"`
			} `json:"error"`
		}
		if json.Unmarshal(r.Body, &body) == nil {
			pe.Code = body.Error.Status
		}
	}
	return err
}

// cloudProvider is an ohx.Provider built on the toolkit, the way the real
// providers are.
type cloudProvider struct {
	base   string
	client *provider.Client
	tokens *provider.Tokens
}

func (p *cloudProvider) Name() string { return "cloud" }

func (p *cloudProvider) call(ctx context.Context, link ohx.Link, op string, idempotent bool, path string, q url.Values, v any) error {
	req, err := http.NewRequest(http.MethodGet, p.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(ctx, provider.Op{Name: op, Idempotent: idempotent, User: link.ExternalUserID,
		Credentials: p.tokens.Source(link.ID)}, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return &ohx.ProviderError{Provider: p.Name(), Op: op, Kind: ohx.KindPermanent, Code: "bad-json"}
	}
	return nil
}

func (p *cloudProvider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for _, t := range types {
			if _, ok := cloudTypes[t]; !ok {
				continue
			}
			next := ""
			for {
				q := url.Values{"type": {string(t)}, "start": {strconv.FormatInt(w.Start.Unix(), 10)}, "end": {strconv.FormatInt(w.End.Unix(), 10)}}
				if next != "" {
					q.Set("pageToken", next)
				}
				var pg page
				if err := p.call(ctx, link, "samples.list", true, "/v1/users/me/samples", q, &pg); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
				info, _ := t.Info()
				for _, ws := range pg.Samples {
					if err := ctx.Err(); err != nil {
						yield(ohx.Sample{}, err)
						return
					}
					at := time.Unix(ws.Time, 0).UTC()
					s := ohx.Sample{Type: t, Start: at, End: at, Value: ws.Value, Unit: info.Unit, Provider: p.Name(),
						DeviceID: "dev-1", Recording: ohx.RecordedByDevice}
					if !yield(s, nil) {
						return
					}
				}
				if next = pg.Next; next == "" {
					break
				}
			}
		}
	}
}

func (p *cloudProvider) Devices(ctx context.Context, link ohx.Link) ([]ohx.Device, error) {
	var body struct {
		Devices []struct{ ID, Model string } `json:"devices"`
	}
	if err := p.call(ctx, link, "devices.list", true, "/v1/users/me/devices", url.Values{}, &body); err != nil {
		return nil, err
	}
	out := make([]ohx.Device, 0, len(body.Devices))
	for _, d := range body.Devices {
		out = append(out, ohx.Device{Provider: p.Name(), ID: d.ID, Model: d.Model, Kind: ohx.DeviceOther})
	}
	return out, nil
}

// TestSuiteOnAnHTTPProvider runs the suite on a provider built with the
// toolkit against its fake cloud, failures included: the leak checks see
// real HTTP connections, the error checks real 401, 429 and 5xx answers.
func TestSuiteOnAnHTTPProvider(t *testing.T) {
	fake := &cloud{refresh: map[string]bool{"rt-0": true}, access: map[string]bool{}}
	srv := httptest.NewServer(fake.handler())
	t.Cleanup(srv.Close)

	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: "cloud", ExternalUserID: "u-1"}
	require.NoError(t, st.SaveToken(t.Context(), link.ID, ohx.Token{AccessToken: "expired", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Hour)}))
	oc := &oauth2.Config{ClientID: "id", ClientSecret: "secret", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	tokens, err := provider.NewTokens(provider.TokensConfig{Provider: "cloud", Store: st, Locker: st,
		Refresher: provider.NewOAuth2Refresher("cloud", oc, srv.Client())})
	require.NoError(t, err)
	breakers := resilience.NewBreakers(resilience.BreakersConfig{})
	client, err := provider.NewClient(provider.Config{Provider: "cloud", HTTPClient: srv.Client(), Classify: classify,
		Breakers: breakers, UserLimit: resilience.Limit{Rate: 1000, Burst: 100},
		Retry: resilience.RetrySettings{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	require.NoError(t, err)
	p := &cloudProvider{base: srv.URL, client: client, tokens: tokens}

	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	providertest.Run(t, providertest.Config{
		Provider: p, Link: link, Types: []ohx.DataType{ohx.HeartRate, ohx.BodyWeight},
		Window: ohx.Window{Start: day.Add(-time.Hour), End: day.Add(23 * time.Hour)},
		Fail: func(f providertest.Failure) (ohx.Provider, func()) {
			fake.fail.Store(int32(map[providertest.Failure]int{
				providertest.FailAuth: 401, providertest.FailRateLimited: 429, providertest.FailServer: 503}[f]))
			return p, func() {
				fake.fail.Store(0)
				require.NoError(t, breakers.ForceClose("cloud")) // an operator's "it is back"
			}
		},
	})
}
