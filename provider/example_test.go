package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

func ExampleStatusKind() {
	for _, status := range []int{401, 404, 429, 503} {
		fmt.Println(status, provider.StatusKind(status))
	}
	// Output:
	// 401 auth
	// 404 permanent
	// 429 rate-limited
	// 503 transient
}

// A provider whose errors come in an HTTP 200 envelope plugs in its own
// Classifier; the body stays readable for the decoder.
func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("action") != "getmeas" {
			_, _ = w.Write([]byte(`{"status":503,"body":{}}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":0,"body":{"more":0}}`))
	}))
	defer srv.Close()

	classify := func(op string, r *provider.Response) error {
		var env struct {
			Status int `json:"status"`
		}
		if err := json.Unmarshal(r.Body, &env); err != nil {
			return &ohx.ProviderError{Op: op, Kind: ohx.KindTransient, Code: "bad-envelope"}
		}
		switch env.Status {
		case 0:
			return nil
		case 601:
			return &ohx.ProviderError{Op: op, Kind: ohx.KindRateLimited, Code: "601", RetryAfter: time.Minute}
		default:
			return &ohx.ProviderError{Op: op, Kind: ohx.KindPermanent, Code: fmt.Sprint(env.Status)}
		}
	}
	c, err := provider.NewClient(provider.Config{Provider: "withings", HTTPClient: srv.Client(), Classify: classify,
		AppLimit: resilience.PerMinute(120)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, action := range []string{"getmeas", "bogus"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/measure", strings.NewReader("action="+action))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// Withings reads are POSTs, and idempotent.
		resp, err := c.Do(context.Background(), provider.Op{Name: action, Idempotent: true}, req)
		if err != nil {
			fmt.Println(err, ohx.Retryable(err))
			continue
		}
		fmt.Println(resp.StatusCode, string(resp.Body))
	}
	// Output:
	// 200 {"status":0,"body":{"more":0}}
	// withings bogus: permanent (http 200, 503) false
}

// A provider with its own token envelope implements Refresher; the token
// source refreshes under the link's lock and persists the rotated token
// before returning it.
func ExampleTokens() {
	ctx := context.Background()
	st := store.NewMemory()
	_ = st.SaveToken(ctx, "link-1", ohx.Token{AccessToken: "old", RefreshToken: "r1", Expiry: time.Now().Add(-time.Minute)})
	tokens, err := provider.NewTokens(provider.TokensConfig{
		Provider: "withings", Store: st, Locker: st,
		Refresher: provider.RefresherFunc(func(ctx context.Context, refreshToken string) (ohx.Token, error) {
			// POST action=requesttoken&grant_type=refresh_token... and decode {status, body}.
			return ohx.Token{AccessToken: "new", RefreshToken: "r2", Expiry: time.Now().Add(3 * time.Hour)}, nil
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := tokens.Source("link-1").Token(ctx)
	fmt.Println(tok.AccessToken, err)
	stored, _ := st.Token(ctx, "link-1")
	fmt.Println(stored.RefreshToken)
	// Output:
	// new <nil>
	// r2
}

// A provider embeds provider.Common in its Config and builds its client and
// token sources in New with its own defaults; here the provider "acme",
// whose API allows 300 requests per minute per user.
func ExampleCommon_Build() {
	type Config struct {
		ClientID, ClientSecret string
		APIBaseURL             string
		provider.Common
	}
	st := store.NewMemory()
	cfg := Config{ClientID: "id", ClientSecret: "secret", APIBaseURL: "https://api.acme.example",
		Common: provider.Common{Tokens: st, Locker: st}}

	refresh := provider.RefresherFunc(func(context.Context, string) (ohx.Token, error) {
		return ohx.Token{}, errors.New("acme: refresh not shown")
	})
	kit, err := cfg.Build("acme", provider.Defaults{
		UserLimit: provider.PerMinute(300), RateLimitScope: provider.ScopeUser, Refresher: refresh,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("breaker:", kit.Client.Breaker().Name())
	fmt.Println("per-user limit is the provider's default:", kit.Settings.UserLimit == provider.PerMinute(300))
	fmt.Println("no application limit:", kit.Settings.AppLimit == provider.Limit{})
	fmt.Println("token sources:", kit.Tokens != nil)
	// Output:
	// breaker: acme
	// per-user limit is the provider's default: true
	// no application limit: true
	// token sources: true
}
