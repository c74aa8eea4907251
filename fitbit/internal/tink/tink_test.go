package tink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notification is a webhook body of the shape Google sends.
var notification = []byte(`{"data":{"healthUserId":"u1","operation":"UPSERT","dataType":"steps",` +
	`"intervals":[{"physicalStartTime":"2026-11-25T00:00:00Z","physicalEndTime":"2026-11-25T01:00:00Z"}]}}`)

// sign returns the signature header of body under priv with key id.
func sign(t testing.TB, priv *ecdsa.PrivateKey, id uint32, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	require.NoError(t, err)
	raw := binary.BigEndian.AppendUint32([]byte{tinkPrefix}, id)
	return base64.StdEncoding.EncodeToString(append(raw, sig...))
}

func TestVerify(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	keys := map[uint32]*ecdsa.PublicKey{7: &priv.PublicKey}

	good := sign(t, priv, 7, notification)
	require.NoError(t, Verify(keys, good, notification))

	id, sig, err := ParseSignature(good)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), id)
	assert.NotEmpty(t, sig)

	assert.Error(t, Verify(keys, good, append([]byte(" "), notification...)), "another body")
	assert.ErrorIs(t, Verify(keys, sign(t, priv, 8, notification), notification), ErrUnknownKey)
	assert.Error(t, Verify(keys, sign(t, other, 7, notification), notification), "another key under the same id")
	assert.Error(t, Verify(keys, "not base64!", notification))
	assert.Error(t, Verify(keys, base64.StdEncoding.EncodeToString([]byte{2, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8}), notification),
		"no Tink prefix")
}

// FuzzVerify checks that no header or body but a real signature verifies,
// and that parsing never panics.
func FuzzVerify(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keys := map[uint32]*ecdsa.PublicKey{7: &priv.PublicKey}
	good := sign(f, priv, 7, notification)
	if err := Verify(keys, good, notification); err != nil {
		f.Fatalf("the real signature does not verify: %v", err)
	}
	f.Add(good, notification)
	f.Add("AQAAAAcw", notification)
	f.Add("", []byte("{}"))
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		if Verify(keys, header, b) == nil && string(b) != string(notification) {
			t.Fatalf("a signature verified over another body")
		}
	})
}

// FuzzParseKeyset parses keysets: no panic; every key returned is on P-256.
func FuzzParseKeyset(f *testing.F) {
	f.Add([]byte(`{"primaryKeyId":1,"key":[{"keyId":1,"status":"ENABLED","outputPrefixType":"TINK","keyData":{"typeUrl":"type.googleapis.com/google.crypto.tink.EcdsaPublicKey","keyMaterialType":"ASYMMETRIC_PUBLIC","value":"EgYIAxACGAI="}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseKeyset(b)
		if err != nil {
			return
		}
		for _, k := range keys {
			if _, err := k.ECDH(); err != nil {
				t.Fatalf("key not on P-256: %v", err)
			}
		}
	})
}
