package publish_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

// handlerTransport serves requests with a handler, in memory, so the tests
// run inside synctest bubbles.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

const (
	authBase = "http://ehr.test/fhir"
	tokenURL = "http://ehr.test/auth/token"
	clientID = "ohx-client"
	secret   = "s3cret"
	lifetime = 300 // seconds of a token
)

// authServer is a FHIR server behind a bearer check plus a token endpoint
// that issues short-lived tokens, by client secret or by a SMART client
// assertion signed with the registered public key.
type authServer struct {
	t      *testing.T
	fhir   *fhirtest.Server
	pub    crypto.PublicKey
	alg    string
	static string
	// expectFail silences the endpoint's complaints in negative tests.
	expectFail bool

	mu       sync.Mutex
	issued   map[string]time.Time // token → expiry
	requests int
	jtis     map[string]bool
	seen     []string // tokens presented to the FHIR server, in order
	denied   int
}

func newAuthServer(t *testing.T) *authServer {
	return &authServer{t: t, fhir: fhirtest.New(), issued: map[string]time.Time{}, jtis: map[string]bool{}}
}

func (a *authServer) client() *http.Client { return &http.Client{Transport: handlerTransport{a}} }

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/auth/token" {
		a.token(w, r)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	exp, valid := a.issued[tok]
	valid = ok && (tok == a.static && a.static != "" || valid && time.Now().Before(exp))
	if valid {
		a.seen = append(a.seen, tok)
	} else {
		a.denied++
	}
	a.mu.Unlock()
	if !valid {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.URL.Path = strings.TrimPrefix(r.URL.Path, "/fhir")
	a.fhir.ServeHTTP(w, r)
}

func (a *authServer) token(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		if !a.expectFail {
			a.t.Errorf("token request: %s", msg)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
	}
	require.NoError(a.t, r.ParseForm())
	if r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "client_credentials" {
		fail("not a client_credentials POST")
		return
	}
	if a.pub == nil {
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id != clientID || sec != secret {
			fail("wrong client credentials")
			return
		}
	} else if err := a.checkAssertion(r); err != nil {
		fail(err.Error())
		return
	}
	a.mu.Lock()
	a.requests++
	tok := fmt.Sprintf("token-%d", a.requests)
	a.issued[tok] = time.Now().Add(lifetime * time.Second)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":%d,"scope":%q}`, tok, lifetime, r.PostForm.Get("scope"))
}

// checkAssertion verifies a SMART Backend Services request.
func (a *authServer) checkAssertion(r *http.Request) error {
	if got := r.PostForm.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return fmt.Errorf("client_assertion_type %q", got)
	}
	if got := r.PostForm.Get("scope"); got != "system/*.write" {
		return fmt.Errorf("scope %q", got)
	}
	parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return errors.New("assertion is not a JWS")
	}
	var header struct{ Alg, Typ, Kid string }
	if err := decodeSegment(parts[0], &header); err != nil {
		return err
	}
	if header.Alg != a.alg || header.Typ != "JWT" || header.Kid != "key-1" {
		return fmt.Errorf("header %+v", header)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha512.Sum384([]byte(parts[0] + "." + parts[1]))
	switch pub := a.pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA384, sum[:], sig); err != nil {
			return errors.New("bad RS384 signature")
		}
	case *ecdsa.PublicKey:
		if len(sig) != 96 || !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
			return errors.New("bad ES384 signature")
		}
	}
	var claims struct {
		Iss, Sub, Aud, Jti string
		Exp                int64
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return err
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != clientID || claims.Sub != clientID:
		return errors.New("iss/sub is not the client id")
	case claims.Aud != tokenURL:
		return errors.New("aud is not the token URL")
	case claims.Exp <= now || claims.Exp > now+300:
		return errors.New("exp is not within five minutes")
	case claims.Jti == "":
		return errors.New("no jti")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jtis[claims.Jti] {
		return errors.New("jti replayed")
	}
	a.jtis[claims.Jti] = true
	return nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func TestFHIRAuthModesObtainAndRefreshTokens(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name  string
		setup func(a *authServer) (oauth2.TokenSource, error)
	}{
		{"client credentials", func(a *authServer) (oauth2.TokenSource, error) {
			return publish.ClientCredentials(clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL}, a.client(), 0), nil
		}},
		{"smart RS384", func(a *authServer) (oauth2.TokenSource, error) {
			a.pub, a.alg = &rsaKey.PublicKey, "RS384"
			return publish.SMARTBackend(publish.SMARTConfig{TokenURL: tokenURL, ClientID: clientID, Key: rsaKey, KeyID: "key-1", HTTPClient: a.client()})
		}},
		{"smart ES384", func(a *authServer) (oauth2.TokenSource, error) {
			a.pub, a.alg = &ecKey.PublicKey, "ES384"
			return publish.SMARTBackend(publish.SMARTConfig{TokenURL: tokenURL, ClientID: clientID, Key: ecKey, KeyID: "key-1", HTTPClient: a.client()})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newAuthServer(t)
				src, err := tc.setup(a)
				require.NoError(t, err)
				p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: authBase, HTTPClient: a.client(), Auth: src})
				require.NoError(t, err)

				publishOne := func(n int) {
					t.Helper()
					res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(n, "")})
					require.NoError(t, err)
					require.Len(t, res.Written, 1)
				}
				publishOne(1)
				time.Sleep(200 * time.Second)
				publishOne(2) // still fresh: cached
				assert.Equal(t, 1, a.requests)
				time.Sleep(41 * time.Second) // 241 s: within a minute of expiry
				publishOne(3)
				assert.Equal(t, 2, a.requests, "refreshed before expiry")
				assert.Equal(t, []string{"token-1", "token-1", "token-1", "token-2"}, a.seen, "GET metadata carries the token too")
				assert.Zero(t, a.denied, "never sent an expired token")
				assert.Equal(t, 3, a.fhir.Count("Observation"))
			})
		})
	}
}

func TestFHIRStaticBearer(t *testing.T) {
	a := newAuthServer(t)
	a.static = "static-abc"
	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: authBase, HTTPClient: a.client(), Auth: publish.StaticToken("static-abc")})
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
	require.NoError(t, err)
	assert.Equal(t, []string{"static-abc", "static-abc"}, a.seen, "GET metadata, then the transaction")

	// A wrong token is an authentication error that names no token.
	bad, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: authBase, HTTPClient: a.client(), Auth: publish.StaticToken("wrong-token")})
	require.NoError(t, err)
	_, err = bad.Publish(t.Context(), []ohx.Resource{hrObservation(2, "")})
	require.ErrorIs(t, err, ohx.ErrAuth)
	assert.NotContains(t, err.Error(), "wrong-token")
	assert.Equal(t, 0, bad.BreakerState())
}

func TestFHIRTokenEndpointFailureIsAuthError(t *testing.T) {
	a := newAuthServer(t)
	src := publish.ClientCredentials(clientcredentials.Config{ClientID: clientID, ClientSecret: "wrong", TokenURL: tokenURL}, a.client(), 0)
	a.expectFail = true
	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: authBase, HTTPClient: a.client(), Auth: src})
	require.NoError(t, err)
	_, err = p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
	require.ErrorIs(t, err, ohx.ErrAuth)
	assert.NotContains(t, err.Error(), "wrong")
	assert.NotContains(t, err.Error(), "invalid_client")
	assert.Equal(t, 0, p.BreakerState())
	assert.Equal(t, 0, a.fhir.RequestCount())
}

func TestSMARTBackendRejectsWeakKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for name, key := range map[string]crypto.Signer{"rsa-1024": small, "p-256": p256, "nil": nil} {
		_, err := publish.SMARTBackend(publish.SMARTConfig{TokenURL: tokenURL, ClientID: clientID, Key: key})
		assert.Error(t, err, name)
	}
}
