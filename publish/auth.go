package publish

import (
	"context"
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
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultRefreshBefore is how long before its expiry a cached access token
// is replaced, unless the token lives less than twice as long (then it is
// replaced at half its life).
const DefaultRefreshBefore = time.Minute

// StaticToken returns a token source for a fixed bearer token.
func StaticToken(token string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
}

// ClientCredentials returns a token source for the OAuth 2.0 client
// credentials grant described by cfg, sending its requests with client (nil
// means http.DefaultClient). Tokens are cached and replaced refreshBefore
// their expiry (0 means DefaultRefreshBefore).
func ClientCredentials(cfg clientcredentials.Config, client *http.Client, refreshBefore time.Duration) oauth2.TokenSource {
	ctx := context.Background()
	if client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	}
	return newCachedSource(func() (*oauth2.Token, error) { return cfg.Token(ctx) }, refreshBefore)
}

// SMARTConfig configures SMART Backend Services authorization: the
// client_credentials grant with a client assertion JWT signed by the
// client's private key.
type SMARTConfig struct {
	// TokenURL is the authorization server's token endpoint; it is also the
	// assertion's audience.
	TokenURL string
	// ClientID is the registered client id (the assertion's iss and sub).
	ClientID string
	// Key signs the assertion: an *rsa.PrivateKey (RS384, at least 2048
	// bits) or an *ecdsa.PrivateKey on P-384 (ES384).
	Key crypto.Signer
	// KeyID is the "kid" of the key in the client's registered JWK Set.
	KeyID string
	// Scopes are the requested scopes; nil means "system/*.write".
	Scopes []string
	// HTTPClient sends the token requests; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// RefreshBefore is how long before expiry a token is replaced; 0 means
	// DefaultRefreshBefore.
	RefreshBefore time.Duration
}

// assertionLifetime is the assertion's exp - now; SMART allows at most 5
// minutes.
const assertionLifetime = 5 * time.Minute

// SMARTBackend returns a token source for SMART Backend Services.
func SMARTBackend(cfg SMARTConfig) (oauth2.TokenSource, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("publish: smart token URL must be an absolute http(s) URL")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("publish: smart needs a client id")
	}
	if _, err := jwsAlg(cfg.Key); err != nil {
		return nil, err
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"system/*.write"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	s := &smartSource{cfg: cfg}
	return newCachedSource(s.fetch, cfg.RefreshBefore), nil
}

type smartSource struct{ cfg SMARTConfig }

// tokenStatusError is a non-200 answer of a token endpoint.
type tokenStatusError struct{ status int }

func (e *tokenStatusError) Error() string {
	return "token endpoint answered http " + strconv.Itoa(e.status)
}

func (s *smartSource) fetch() (*oauth2.Token, error) {
	assertion, err := s.assertion(time.Now())
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {strings.Join(s.cfg.Scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &tokenStatusError{status: resp.StatusCode}
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, errors.New("token endpoint answer has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, errors.New("token endpoint answered a token type other than bearer")
	}
	t := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: "Bearer"}
	if tr.ExpiresIn > 0 {
		t.Expiry = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return t, nil
}

// assertion builds and signs the client assertion JWT.
func (s *smartSource) assertion(now time.Time) (string, error) {
	alg, err := jwsAlg(s.cfg.Key)
	if err != nil {
		return "", err
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if s.cfg.KeyID != "" {
		header["kid"] = s.cfg.KeyID
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss": s.cfg.ClientID,
		"sub": s.cfg.ClientID,
		"aud": s.cfg.TokenURL,
		"exp": now.Add(assertionLifetime).Unix(),
		"iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sig, err := signES384orRS384(s.cfg.Key, []byte(signing))
	if err != nil {
		return "", fmt.Errorf("publish: sign client assertion: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwsAlg returns the JWS algorithm for a key.
func jwsAlg(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", errors.New("publish: smart RSA key must have at least 2048 bits")
		}
		return "RS384", nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P384() {
			return "", errors.New("publish: smart ECDSA key must be on P-384 (ES384)")
		}
		return "ES384", nil
	case nil:
		return "", errors.New("publish: smart needs a private key")
	}
	return "", errors.New("publish: smart key must be *rsa.PrivateKey or *ecdsa.PrivateKey")
}

// signES384orRS384 signs with SHA-384; an ECDSA signature is encoded as
// the fixed-size r||s that JWS requires, not ASN.1.
func signES384orRS384(key crypto.Signer, data []byte) ([]byte, error) {
	sum := sha512.Sum384(data)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA384, sum[:])
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 96)
		r.FillBytes(out[:48])
		s.FillBytes(out[48:])
		return out, nil
	}
	return nil, errors.New("unsupported key")
}

// cachedSource caches a token and fetches a new one shortly before it
// expires. Concurrent callers share one fetch.
type cachedSource struct {
	fetch  func() (*oauth2.Token, error)
	before time.Duration

	mu       sync.Mutex
	tok      *oauth2.Token
	obtained time.Time
}

func newCachedSource(fetch func() (*oauth2.Token, error), before time.Duration) *cachedSource {
	if before <= 0 {
		before = DefaultRefreshBefore
	}
	return &cachedSource{fetch: fetch, before: before}
}

// Token returns the cached token or a new one.
func (c *cachedSource) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.tok != nil && c.fresh(now) {
		return c.tok, nil
	}
	t, err := c.fetch()
	if err != nil {
		return nil, err
	}
	c.tok, c.obtained = t, now
	return t, nil
}

func (c *cachedSource) fresh(now time.Time) bool {
	if c.tok.Expiry.IsZero() {
		return true
	}
	early := min(c.before, c.tok.Expiry.Sub(c.obtained)/2)
	return now.Before(c.tok.Expiry.Add(-early))
}
