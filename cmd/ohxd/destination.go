package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/resilience"
)

// openDestination builds the publisher: a FHIR server when OHX_FHIR_URL is
// set, else NDJSON files.
func (a *app) openDestination(opt wireOptions) error {
	client := opt.httpClient
	if a.cfg.FHIRURL != "" {
		fhir, err := a.newFHIR(client, opt.fhirRetry)
		if err != nil {
			return fmt.Errorf("FHIR destination: %w", err)
		}
		a.fhir, a.publisher = fhir, fhir
		return nil
	}
	nd, err := publish.NewNDJSON(a.cfg.NDJSONDir, publish.WithNDJSONLogger(a.log), publish.WithNDJSONMetrics(a.metrics),
		publish.WithNDJSONVersion(a.cfg.FHIRVersion))
	if err != nil {
		return fmt.Errorf("NDJSON destination: %w", err)
	}
	a.closers = append(a.closers, nd.Close)
	a.publisher = flushingNDJSON{nd}
	return nil
}

// newFHIR builds the FHIR destination. Its breaker lives in the daemon's
// registry, so /v1/breakers lists it and can close it.
func (a *app) newFHIR(client *http.Client, retry resilience.RetrySettings) (*publish.FHIR, error) {
	auth, err := fhirAuth(a.cfg, client)
	if err != nil {
		return nil, err
	}
	return publish.NewFHIR(publish.FHIRConfig{BaseURL: a.cfg.FHIRURL, BundleSize: a.cfg.FHIRBundleSize,
		Mode: a.cfg.FHIRWriteMode, HTTPClient: client, Auth: auth, Retry: retry, Breakers: a.breakers,
		Version: a.cfg.FHIRVersion, SkipVersionCheck: a.cfg.FHIRSkipVersionCheck, Logger: a.log, Metrics: a.metrics})
}

// startCheckTimeout bounds the start-up check of the FHIR server's release.
const startCheckTimeout = 30 * time.Second

// checkDestination reads the FHIR server's CapabilityStatement before the
// workers start. A server of the other release, or one without a
// CapabilityStatement (unless OHX_FHIR_SKIP_VERSION_CHECK), stops the
// daemon: nothing it would write could land. A server that does not answer
// yet is only logged; the publisher asks again before its first write.
func (a *app) checkDestination(ctx context.Context) error {
	if a.fhir == nil {
		return nil
	}
	checkCtx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	err := a.fhir.Check(checkCtx)
	var ve *publish.VersionError
	switch {
	case err == nil:
		a.log.Info("FHIR destination checked", zap.String("fhir_version", a.fhir.Version().String()),
			zap.Bool("skipped", a.cfg.FHIRSkipVersionCheck))
		return nil
	case errors.As(err, &ve):
		return fmt.Errorf("OHX_FHIR_VERSION is %s: %w", a.cfg.FHIRVersion, err)
	case errors.Is(err, publish.ErrNoCapabilityStatement):
		return fmt.Errorf("%w (OHX_FHIR_SKIP_VERSION_CHECK=true skips the check)", err)
	}
	if ctx.Err() != nil {
		return nil // shutting down: not a failure of the destination
	}
	a.log.Warn("the FHIR server's release could not be checked at start; it is checked again before the first write",
		zap.String("kind", ohx.KindOf(err).String()), zap.Error(err))
	return nil
}

// fhirAuth builds the FHIR destination's token source: SMART Backend
// Services (private key), client credentials (secret), a static bearer
// token, or none.
func fhirAuth(cfg *config, client *http.Client) (oauth2.TokenSource, error) {
	switch {
	case cfg.FHIRTokenURL != "" && cfg.FHIRPrivateKeyFile != "":
		pemBytes, err := readPrivate(cfg.FHIRPrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("OHX_FHIR_PRIVATE_KEY_FILE: %w", err)
		}
		key, err := parsePrivateKey(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("OHX_FHIR_PRIVATE_KEY_FILE: %w", err)
		}
		return publish.SMARTBackend(publish.SMARTConfig{TokenURL: cfg.FHIRTokenURL, ClientID: cfg.FHIRClientID,
			Key: key, Scopes: cfg.FHIRScopes, HTTPClient: client})
	case cfg.FHIRTokenURL != "":
		return publish.ClientCredentials(clientcredentials.Config{ClientID: cfg.FHIRClientID, ClientSecret: cfg.FHIRClientSecret,
			TokenURL: cfg.FHIRTokenURL, Scopes: cfg.FHIRScopes}, client, 0), nil
	case cfg.FHIRBearerToken != "":
		return publish.StaticToken(cfg.FHIRBearerToken), nil
	}
	return nil, nil
}

func parsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key (want PKCS#8, PKCS#1 RSA or SEC 1 EC)")
}

// flushingNDJSON flushes the NDJSON files after every publish, so what the
// daemon acknowledged is on disk before cursors move.
type flushingNDJSON struct{ *publish.NDJSON }

func (f flushingNDJSON) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	res, err := f.NDJSON.Publish(ctx, rs)
	if err != nil {
		return res, err
	}
	return res, f.Flush(ctx)
}
