package ohx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

// thermoProvider is a custom ohx.Provider for an imaginary "thermo" cloud
// that serves body-temperature readings, oldest first, in pages:
//
//	GET /v1/readings?from=<unix>&to=<unix>&page=<n>  → {"readings":[{"t":…,"celsius":…}],"next":<n or 0>}
//	GET /v1/devices                                  → {"devices":[{"id":…,"model":…}]}
//
// It reads the link's token from an ohx.TokenStore, streams samples without
// holding the window in memory, stops when the consumer stops or ctx ends,
// and classifies failures as *ohx.ProviderError so the engine and the queue
// know whether to refresh, wait, retry or give up.
type thermoProvider struct {
	base   string
	client *http.Client
	tokens ohx.TokenStore
}

var _ ohx.Provider = (*thermoProvider)(nil)

func (p *thermoProvider) Name() string { return "thermo" }

func (p *thermoProvider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		wanted := false
		for _, t := range types {
			wanted = wanted || t == ohx.BodyTemperature
		}
		if !wanted {
			return
		}
		for page := 1; page != 0; {
			var body struct {
				Readings []struct {
					T       int64   `json:"t"`
					Celsius float64 `json:"celsius"`
				} `json:"readings"`
				Next int `json:"next"`
			}
			q := url.Values{"from": {strconv.FormatInt(w.Start.Unix(), 10)},
				"to": {strconv.FormatInt(w.End.Unix(), 10)}, "page": {strconv.Itoa(page)}}
			if err := p.get(ctx, link, "readings", "/v1/readings?"+q.Encode(), &body); err != nil {
				yield(ohx.Sample{}, err)
				return
			}
			for _, r := range body.Readings {
				at := time.Unix(r.T, 0).UTC()
				if !w.Contains(at) {
					continue
				}
				s := ohx.Sample{
					Type: ohx.BodyTemperature, Start: at, End: at, Value: r.Celsius, Unit: "Cel",
					Provider: p.Name(), DeviceID: "thermo-1", Recording: ohx.RecordedByDevice,
					RecordID: strconv.FormatInt(r.T, 10),
				}
				if !yield(s, nil) {
					return
				}
			}
			page = body.Next
		}
	}
}

func (p *thermoProvider) Devices(ctx context.Context, link ohx.Link) ([]ohx.Device, error) {
	var body struct {
		Devices []struct{ ID, Model string } `json:"devices"`
	}
	if err := p.get(ctx, link, "devices", "/v1/devices", &body); err != nil {
		return nil, err
	}
	devs := make([]ohx.Device, 0, len(body.Devices))
	for _, d := range body.Devices {
		devs = append(devs, ohx.Device{Provider: p.Name(), ID: d.ID, Kind: ohx.DeviceThermometer, Manufacturer: "Thermo", Model: d.Model})
	}
	return devs, nil
}

// get sends one authenticated GET and decodes the answer, classifying every
// failure. Error strings name the operation and status, never the token.
func (p *thermoProvider) get(ctx context.Context, link ohx.Link, op, path string, v any) error {
	tok, err := p.tokens.Token(ctx, link.ID)
	if err != nil {
		return &ohx.ProviderError{Provider: p.Name(), Op: op, Kind: ohx.KindNotLinked, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return &ohx.ProviderError{Provider: p.Name(), Op: op, Kind: ohx.KindPermanent, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // a cancelled context is not a provider failure
		}
		return &ohx.ProviderError{Provider: p.Name(), Op: op, Kind: ohx.KindTransient, Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	if kind := provider.StatusKind(resp.StatusCode); kind != ohx.KindUnknown {
		wait, _ := resilience.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return &ohx.ProviderError{Provider: p.Name(), Op: op, Kind: kind, HTTPStatus: resp.StatusCode, RetryAfter: wait}
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return &ohx.ProviderError{Provider: p.Name(), Op: op, Kind: ohx.KindTransient, HTTPStatus: resp.StatusCode, Err: err}
	}
	return nil
}

// thermoCloud is the test fake of the thermo cloud: a reading every four
// hours, three per page, and a status to fail with on demand.
type thermoCloud struct {
	*httptest.Server
	failWith atomic.Int32
}

func newThermoCloud(token string) *thermoCloud {
	c := &thermoCloud{}
	const every, perPage = 4 * 3600, 3
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/readings", func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
		to, _ := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		type reading struct {
			T       int64   `json:"t"`
			Celsius float64 `json:"celsius"`
		}
		var all []reading
		for t := (from + every - 1) / every * every; t < to; t += every {
			all = append(all, reading{T: t, Celsius: 36.5 + float64(t/every%5)/10})
		}
		lo := min((page-1)*perPage, len(all))
		hi := min(lo+perPage, len(all))
		next := 0
		if hi < len(all) {
			next = page + 1
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"readings": all[lo:hi], "next": next})
	})
	mux.HandleFunc("GET /v1/devices", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"devices":[{"id":"thermo-1","model":"Thermo One"}]}`))
	})
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if code := int(c.failWith.Load()); code != 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(code)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return c
}

// Writing a custom Provider: implement Name, Fetch and Devices, stream the
// samples and classify the failures. Run the conformance suite
// provider/providertest on it (see TestThermoProviderConformance).
func Example_customProvider() {
	ctx := context.Background()
	cloud := newThermoCloud("access-token-1")
	defer cloud.Close()

	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: "thermo", Patient: "Patient/123", Status: ohx.LinkActive}
	_ = st.SaveToken(ctx, link.ID, ohx.Token{AccessToken: "access-token-1", TokenType: "Bearer"})
	p := &thermoProvider{base: cloud.URL, client: cloud.Client(), tokens: st}

	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for s, err := range p.Fetch(ctx, link, []ohx.DataType{ohx.BodyTemperature}, ohx.Window{Start: day, End: day.Add(24 * time.Hour)}) {
		if err != nil {
			panic(err)
		}
		if err := s.Validate(); err != nil {
			panic(err)
		}
		fmt.Println(s.Start.Format("15:04"), s.Value, s.Unit)
	}

	cloud.failWith.Store(http.StatusTooManyRequests)
	for _, err := range p.Fetch(ctx, link, []ohx.DataType{ohx.BodyTemperature}, ohx.Window{Start: day, End: day.Add(time.Hour)}) {
		fmt.Println(err, "| kind:", ohx.KindOf(err), "| retry after:", ohx.RetryAfter(err))
	}
	// Output:
	// 00:00 36.7 Cel
	// 04:00 36.8 Cel
	// 08:00 36.9 Cel
	// 12:00 36.5 Cel
	// 16:00 36.6 Cel
	// 20:00 36.7 Cel
	// thermo readings: rate-limited (http 429), retry after 1s | kind: rate-limited | retry after: 1s
}
