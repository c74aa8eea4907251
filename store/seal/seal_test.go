package seal_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/store/seal"
)

func fixedKey(id string, b byte) seal.Key {
	return seal.Key{ID: id, Secret: bytes.Repeat([]byte{b}, seal.KeySize)}
}

func ring(t *testing.T, keys ...seal.Key) *seal.KeyRing {
	t.Helper()
	r, err := seal.NewKeyRing(keys...)
	require.NoError(t, err)
	return r
}

func TestParseKeyRing(t *testing.T) {
	k1 := fixedKey("k1", 1)
	k2 := fixedKey("k-2_b", 2)
	urlRaw := base64.RawURLEncoding.EncodeToString(k2.Secret)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := base64.StdEncoding.EncodeToString(make([]byte, 33))

	tests := []struct {
		name    string
		in      string
		ids     []string
		wantErr string
	}{
		{name: "one key", in: k1.Encode(), ids: []string{"k1"}},
		{name: "comma separated, first is primary", in: k2.Encode() + "," + k1.Encode(), ids: []string{"k-2_b", "k1"}},
		{name: "whitespace and newlines", in: "\n " + k1.Encode() + "\n\t" + k2.Encode() + " \n", ids: []string{"k1", "k-2_b"}},
		{name: "url-safe unpadded base64", in: "k2:" + urlRaw, ids: []string{"k2"}},
		{name: "empty", in: "  ", wantErr: "no keys"},
		{name: "missing colon", in: "k1", wantErr: "want id:base64key"},
		{name: "empty id", in: ":" + short, wantErr: "key id must be"},
		{name: "bad id characters", in: "k/1:" + short, wantErr: "key id may hold only"},
		{name: "short key", in: "k1:" + short, wantErr: `key "k1" is 16 bytes, want 32`},
		{name: "long key", in: "k1:" + long, wantErr: `key "k1" is 33 bytes, want 32`},
		{name: "not base64", in: "k1:!!!notbase64!!!", wantErr: `key "k1": not valid base64`},
		{name: "duplicate id", in: k1.Encode() + "," + k1.Encode(), wantErr: "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := seal.ParseKeyRing(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				_, b64, _ := strings.Cut(tt.in, ":")
				if len(b64) > 8 {
					assert.NotContains(t, err.Error(), b64, "error must not echo key material")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ids, r.IDs())
			assert.Equal(t, tt.ids[0], r.PrimaryID())
		})
	}
}

func TestKeyStringRedacts(t *testing.T) {
	k := fixedKey("k1", 7)
	secret := base64.StdEncoding.EncodeToString(k.Secret)
	for _, s := range []string{k.String(), fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprint([]seal.Key{k})} {
		assert.NotContains(t, s, secret)
		assert.NotContains(t, s, string(k.Secret))
		assert.Contains(t, s, "k1")
	}
	assert.Equal(t, "k1:"+secret, k.Encode())
}

func TestGenerateKey(t *testing.T) {
	a, err := seal.GenerateKey("new")
	require.NoError(t, err)
	b, err := seal.GenerateKey("new")
	require.NoError(t, err)
	assert.Len(t, a.Secret, seal.KeySize)
	assert.NotEqual(t, a.Secret, b.Secret)
	r, err := seal.ParseKeyRing(a.Encode())
	require.NoError(t, err)
	assert.Equal(t, "new", r.PrimaryID())

	_, err = seal.GenerateKey("bad id")
	require.Error(t, err)
}

func TestSealOpen(t *testing.T) {
	r := ring(t, fixedKey("k1", 1))
	ctx := seal.Context("link-1", "access_token")
	ct, err := r.Seal([]byte("secret-access-token"), ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ct, "k1:"), "ciphertext carries its key id")
	assert.NotContains(t, ct, "secret-access-token")
	assert.Equal(t, "k1", seal.KeyID(ct))

	pt, err := r.Open(ct, ctx)
	require.NoError(t, err)
	assert.Equal(t, "secret-access-token", string(pt))

	ct2, err := r.Seal([]byte("secret-access-token"), ctx)
	require.NoError(t, err)
	assert.NotEqual(t, ct, ct2, "nonces are random")

	empty, err := r.Seal(nil, ctx)
	require.NoError(t, err)
	pt, err = r.Open(empty, ctx)
	require.NoError(t, err)
	assert.Empty(t, pt)
}

func TestOpenRejects(t *testing.T) {
	r := ring(t, fixedKey("k1", 1))
	ctx := seal.Context("link-1", "access_token")
	ct, err := r.Seal([]byte("secret"), ctx)
	require.NoError(t, err)
	id, body, _ := strings.Cut(ct, ":")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	require.NoError(t, err)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-1] ^= 1

	tests := []struct {
		name   string
		sealed string
		ctx    []byte
		want   error
	}{
		{name: "other link", sealed: ct, ctx: seal.Context("link-2", "access_token"), want: seal.ErrOpen},
		{name: "other field", sealed: ct, ctx: seal.Context("link-1", "refresh_token"), want: seal.ErrOpen},
		{name: "ambiguous split of the same bytes", sealed: ct, ctx: seal.Context("link-1access", "_token"), want: seal.ErrOpen},
		{name: "flipped bit", sealed: id + ":" + base64.RawURLEncoding.EncodeToString(flipped), ctx: ctx, want: seal.ErrOpen},
		{name: "truncated", sealed: id + ":" + base64.RawURLEncoding.EncodeToString(raw[:10]), ctx: ctx, want: seal.ErrOpen},
		{name: "no key id", sealed: body, ctx: ctx, want: seal.ErrOpen},
		{name: "not base64", sealed: "k1:***", ctx: ctx, want: seal.ErrOpen},
		{name: "unknown key id", sealed: "k9:" + body, ctx: ctx, want: seal.ErrUnknownKey},
		{name: "plaintext", sealed: "", ctx: ctx, want: seal.ErrOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Open(tt.sealed, tt.ctx)
			require.ErrorIs(t, err, tt.want)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestRotation(t *testing.T) {
	old := fixedKey("old", 1)
	nu := fixedKey("new", 2)
	ctx := seal.Context("link-1", "refresh_token")

	ctOld, err := ring(t, old).Seal([]byte("refresh"), ctx)
	require.NoError(t, err)

	rotated := ring(t, nu, old)
	pt, err := rotated.Open(ctOld, ctx)
	require.NoError(t, err, "old keys still open")
	assert.Equal(t, "refresh", string(pt))
	assert.True(t, rotated.NeedsRewrap(ctOld))

	ctNew, changed, err := rotated.Rewrap(ctOld, ctx)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, "new", seal.KeyID(ctNew))
	same, changed, err := rotated.Rewrap(ctNew, ctx)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, ctNew, same)

	newOnly := ring(t, nu)
	pt, err = newOnly.Open(ctNew, ctx)
	require.NoError(t, err)
	assert.Equal(t, "refresh", string(pt))
	_, err = newOnly.Open(ctOld, ctx)
	require.ErrorIs(t, err, seal.ErrUnknownKey)

	_, _, err = rotated.Rewrap(ctOld, seal.Context("link-2", "refresh_token"))
	require.ErrorIs(t, err, seal.ErrOpen, "rewrap keeps the binding")
}

func TestSameIDOtherSecretFails(t *testing.T) {
	ctx := seal.Context("l", "f")
	ct, err := ring(t, fixedKey("k1", 1)).Seal([]byte("x"), ctx)
	require.NoError(t, err)
	_, err = ring(t, fixedKey("k1", 2)).Open(ct, ctx)
	require.ErrorIs(t, err, seal.ErrOpen)
}

func TestSubKeys(t *testing.T) {
	a := fixedKey("a", 1)
	b := fixedKey("b", 2)
	r := ring(t, a, b)

	state, err := r.SubKey("oauth-state")
	require.NoError(t, err)
	assert.Len(t, state, seal.KeySize)
	other, err := r.SubKey("webhook")
	require.NoError(t, err)
	assert.NotEqual(t, state, other, "purposes are separated")
	assert.NotEqual(t, a.Secret, state, "subkeys are not the master key")

	again, err := ring(t, a).SubKey("oauth-state")
	require.NoError(t, err)
	assert.Equal(t, state, again, "derivation is deterministic")

	all, err := r.SubKeys("oauth-state")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, state, all[0])
	fromB, err := ring(t, b).SubKey("oauth-state")
	require.NoError(t, err)
	assert.Equal(t, fromB, all[1])

	_, err = r.SubKey("")
	require.Error(t, err)
}

func TestContextIsUnambiguous(t *testing.T) {
	assert.NotEqual(t, seal.Context("ab", "c"), seal.Context("a", "bc"))
	assert.NotEqual(t, seal.Context("a"), seal.Context("a", ""))
}

func BenchmarkSeal(b *testing.B) {
	r, err := seal.NewKeyRing(fixedKey("k1", 1))
	require.NoError(b, err)
	ctx := seal.Context("link-1", "access_token")
	pt := bytes.Repeat([]byte("x"), 200)
	for b.Loop() {
		ct, err := r.Seal(pt, ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Open(ct, ctx); err != nil {
			b.Fatal(err)
		}
	}
}
