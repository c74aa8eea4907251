package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// oauthState is what the signed OAuth state carries through the patient's
// browser. It holds ids only (the success and error URLs are in the connect
// flow); the PKCE verifier is
// derived from the nonce with the server key, never carried.
type oauthState struct {
	LinkID   string `json:"l"`
	Provider string `json:"p"`
	Nonce    string `json:"n"`
	Expires  int64  `json:"e"`
	// Flow names the connect flow (store.ConnectFlow) the state belongs
	// to: the callback consumes it, with the cookie of the browser that
	// opened its page.
	Flow string `json:"c"`
}

// State errors. They never echo the state's content.
var (
	errStateMalformed = errors.New("oauth state is malformed")
	errStateSignature = errors.New("oauth state signature is invalid")
	errStateExpired   = errors.New("oauth state has expired")
)

// stateSigner signs and verifies OAuth states with HMAC-SHA256.
type stateSigner struct {
	key []byte
	ttl time.Duration
}

func (s stateSigner) sign(st oauthState) (string, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac("state", p)), nil
}

func (s stateSigner) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verify checks the signature first (constant time), then expiry.
func (s stateSigner) verify(raw string, now time.Time) (oauthState, error) {
	var st oauthState
	if len(raw) > 8192 {
		return st, errStateMalformed
	}
	p, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return st, errStateMalformed
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return st, errStateMalformed
	}
	if !hmac.Equal(got, s.mac("state", p)) {
		return st, errStateSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return st, errStateMalformed
	}
	if err := json.Unmarshal(payload, &st); err != nil || st.LinkID == "" || st.Provider == "" || st.Nonce == "" || st.Flow == "" {
		return oauthState{}, errStateMalformed
	}
	if now.Unix() > st.Expires {
		return oauthState{}, errStateExpired
	}
	return st, nil
}

// verifier derives the PKCE code verifier of a state (43 characters of
// base64url, as RFC 7636 requires at least).
func (s stateSigner) verifier(st oauthState) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("pkce", st.LinkID+"|"+st.Nonce))
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func newID(prefix string) (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("id: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}
