package server

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// FuzzStateVerify feeds arbitrary raw states to the OAuth state verifier.
// Without the key a state can only be refused; the verifier must never panic
// and must answer one of its three errors.
func FuzzStateVerify(f *testing.F) {
	s := stateSigner{key: []byte(strings.Repeat("k", 32)), ttl: 15 * time.Minute}
	good, err := s.sign(oauthState{LinkID: "lnk_1", Provider: "withings", Nonce: "n1", Expires: fuzzNow.Add(time.Minute).Unix(),
		Flow: "flow-1"})
	if err != nil {
		f.Fatal(err)
	}
	other := stateSigner{key: []byte(strings.Repeat("o", 32))}
	forged, _ := other.sign(oauthState{LinkID: "lnk_2", Provider: "fitbit", Nonce: "n2", Flow: "f2", Expires: fuzzNow.Add(time.Hour).Unix()})
	f.Add(good)
	f.Add(forged)
	f.Add(good[:len(good)-2])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("")
	f.Add(".")
	f.Add("eyJsIjoibG5rXzEifQ.")
	f.Fuzz(func(t *testing.T, raw string) {
		st, err := s.verify(raw, fuzzNow)
		if err == nil {
			if raw != good {
				t.Fatalf("accepted a state that was never signed: %q → %+v", raw, st)
			}
			return
		}
		if !errors.Is(err, errStateMalformed) && !errors.Is(err, errStateSignature) && !errors.Is(err, errStateExpired) {
			t.Fatalf("unexpected error %v", err)
		}
		if st != (oauthState{}) {
			t.Fatalf("refused state returned content %+v", st)
		}
	})
}

// FuzzStatePayload signs arbitrary payloads with the right key, so the
// fuzzer reaches the decoding behind the signature check: a payload is
// accepted only with every required field and an expiry in the future.
func FuzzStatePayload(f *testing.F) {
	s := stateSigner{key: []byte(strings.Repeat("k", 32)), ttl: 15 * time.Minute}
	f.Add([]byte(`{"l":"lnk_1","p":"withings","n":"n1","c":"f1","e":1795000000}`))
	f.Add([]byte(`{"l":"lnk_1","p":"withings","n":"n1","e":1795000000}`))
	f.Add([]byte(`{"l":"lnk_1","p":"withings","n":"n1","e":1}`))
	f.Add([]byte(`{"l":"","p":"withings","n":"n1","e":1795000000}`))
	f.Add([]byte(`{"l":"lnk_1","p":"fitbit","n":"n1","e":"soon"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := base64.RawURLEncoding.EncodeToString(payload)
		raw := p + "." + base64.RawURLEncoding.EncodeToString(s.mac("state", p))
		st, err := s.verify(raw, fuzzNow)
		if err != nil {
			if errors.Is(err, errStateSignature) {
				t.Fatalf("a correctly signed state failed its signature check")
			}
			return
		}
		if st.LinkID == "" || st.Provider == "" || st.Nonce == "" || st.Flow == "" || st.Expires < fuzzNow.Unix() {
			t.Fatalf("accepted an incomplete or expired state %+v", st)
		}
		if len(s.verifier(st)) < 43 {
			t.Fatalf("PKCE verifier too short")
		}
	})
}
