package provider_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

func TestDefaultHTTPClientRequiresTLS12(t *testing.T) {
	for _, tt := range []struct {
		name    string
		max     uint16
		wantErr bool
	}{
		{name: "tls 1.1 server", max: tls.VersionTLS11, wantErr: true},
		{name: "tls 1.2 server", max: tls.VersionTLS12},
		{name: "tls 1.3 server", max: tls.VersionTLS13},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("{}"))
			}))
			srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tt.max} //nolint:gosec // the old version is the point
			srv.StartTLS()
			defer srv.Close()
			hc := provider.NewHTTPClient()
			tr := hc.Transport.(*http.Transport)
			require.Equal(t, uint16(tls.VersionTLS12), tr.TLSClientConfig.MinVersion)
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			tr.TLSClientConfig.RootCAs = pool
			c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.Retry.MaxAttempts = 1 })
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			_, err = c.Do(t.Context(), read, req)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
				assert.Contains(t, err.Error(), "tls")
				return
			}
			require.NoError(t, err)
		})
	}
}
