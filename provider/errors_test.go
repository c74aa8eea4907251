package provider_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

func TestStatusKind(t *testing.T) {
	tests := []struct {
		status int
		want   ohx.ErrorKind
	}{
		{200, ohx.KindUnknown}, {204, ohx.KindUnknown}, {304, ohx.KindUnknown},
		{400, ohx.KindPermanent}, {401, ohx.KindAuth}, {403, ohx.KindAuth}, {404, ohx.KindPermanent},
		{408, ohx.KindTransient}, {409, ohx.KindPermanent}, {422, ohx.KindPermanent}, {425, ohx.KindTransient},
		{429, ohx.KindRateLimited}, {500, ohx.KindTransient}, {502, ohx.KindTransient}, {503, ohx.KindTransient},
		{504, ohx.KindTransient},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, provider.StatusKind(tt.status), "status %d", tt.status)
	}
}

func TestClassifyHTTP(t *testing.T) {
	tests := []struct {
		name    string
		resp    provider.Response
		want    ohx.ErrorKind
		wantErr bool
		wait    time.Duration
	}{
		{name: "ok", resp: provider.Response{StatusCode: 200}},
		{name: "no content", resp: provider.Response{StatusCode: 204}},
		{name: "unauthorized", resp: provider.Response{StatusCode: 401}, want: ohx.KindAuth, wantErr: true},
		{name: "bad request", resp: provider.Response{StatusCode: 400}, want: ohx.KindPermanent, wantErr: true},
		{name: "redirect not followed", resp: provider.Response{StatusCode: 302}, want: ohx.KindPermanent, wantErr: true},
		{name: "too many requests", resp: provider.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"30"}}},
			want: ohx.KindRateLimited, wantErr: true, wait: 30 * time.Second},
		{name: "unavailable with retry-after", resp: provider.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"3"}}},
			want: ohx.KindTransient, wantErr: true, wait: 3 * time.Second},
		{name: "server error", resp: provider.Response{StatusCode: 500, Body: []byte(`{"secret":"x"}`)}, want: ohx.KindTransient, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.resp.Header == nil {
				tt.resp.Header = http.Header{}
			}
			err := provider.ClassifyHTTP("op", &tt.resp)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			var pe *ohx.ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.want, pe.Kind)
			assert.Equal(t, tt.resp.StatusCode, pe.HTTPStatus)
			assert.Equal(t, tt.wait, pe.RetryAfter)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestClassifyOAuth2Error(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   ohx.ErrorKind
		code   string
		wait   time.Duration
	}{
		{name: "invalid_grant", status: 400, body: `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, want: ohx.KindRevoked, code: "invalid_grant"},
		{name: "invalid_client", status: 401, body: `{"error":"invalid_client"}`, want: ohx.KindPermanent, code: "invalid_client"},
		{name: "unauthorized without code", status: 401, body: `nope`, want: ohx.KindPermanent},
		{name: "temporarily_unavailable", status: 503, body: `{"error":"temporarily_unavailable"}`, want: ohx.KindTransient, code: "temporarily_unavailable"},
		{name: "server error without code", status: 500, body: `<html>oops</html>`, want: ohx.KindTransient},
		{name: "rate limited", status: 429, header: http.Header{"Retry-After": {"9"}}, body: `slow down`, want: ohx.KindRateLimited, wait: 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				if tt.body != "" && tt.body[0] == '{' {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			cfg := &oauth2.Config{ClientID: "id", ClientSecret: "client-secret", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}}
			_, err := provider.NewOAuth2Refresher("acme", cfg, srv.Client()).Refresh(t.Context(), "refresh-secret")
			var pe *ohx.ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.want, pe.Kind)
			assert.Equal(t, tt.code, pe.Code)
			assert.Equal(t, tt.status, pe.HTTPStatus)
			assert.Equal(t, tt.wait, pe.RetryAfter)
			assert.Equal(t, "token.refresh", pe.Op)
			for _, secret := range []string{"refresh-secret", "client-secret", "expired or revoked", "oops", "slow down"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
	t.Run("network failure", func(t *testing.T) {
		cfg := &oauth2.Config{ClientID: "id", Endpoint: oauth2.Endpoint{TokenURL: "http://127.0.0.1:1/token?key=SECRET"}}
		_, err := provider.NewOAuth2Refresher("acme", cfg, nil).Refresh(t.Context(), "refresh-secret")
		require.Error(t, err)
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.NotContains(t, err.Error(), "SECRET")
		assert.NotContains(t, err.Error(), "refresh-secret")
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := provider.ClassifyOAuth2Error(ctx, "acme", "token.refresh", errors.New("whatever"))
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("unknown error", func(t *testing.T) {
		err := provider.ClassifyOAuth2Error(t.Context(), "acme", "token.refresh", errors.New("token=SECRET"))
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.NotContains(t, err.Error(), "SECRET")
	})
}
