package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of a master key (AES-256).
const KeySize = 32

// maxIDLen bounds key ids; they are stored in every ciphertext.
const maxIDLen = 32

// HKDF info strings. They differ in their prefix so that no purpose given to
// SubKey can ever yield the sealing key.
const (
	sealInfo      = "ohx/seal/v1"
	subKeyInfoPfx = "ohx/subkey/v1/"
	adPrefix      = "ohx-seal-v1"
)

// Errors returned by this package. They never carry key material.
var (
	// ErrNoKeys: a key ring needs at least one key.
	ErrNoKeys = errors.New("seal: no keys configured")
	// ErrUnknownKey: a ciphertext names a key id the ring does not hold
	// (the key was removed before its secrets were rewrapped).
	ErrUnknownKey = errors.New("seal: ciphertext key id not in key ring")
	// ErrOpen: a ciphertext is malformed, was tampered with, or belongs to
	// another context (row or field).
	ErrOpen = errors.New("seal: cannot open ciphertext")
)

// Key is one master key of a ring. Its String method hides the secret; use
// Encode to write it out on purpose.
type Key struct {
	// ID names the key inside ciphertexts: 1 to 32 characters of
	// [A-Za-z0-9_-].
	ID string
	// Secret is the 32-byte master key.
	Secret []byte
}

// String returns the key id with the secret redacted, so a Key that ends up in
// a log line leaks nothing.
func (k Key) String() string { return k.ID + ":<redacted>" }

// GoString redacts like String, for %#v.
func (k Key) GoString() string {
	return "seal.Key{ID:" + fmt.Sprintf("%q", k.ID) + ", Secret:<redacted>}"
}

// Encode returns the key as "id:base64key" (standard base64 with padding),
// the form ParseKeyRing reads.
func (k Key) Encode() string { return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret) }

// GenerateKey returns a new random key with the given id.
func GenerateKey(id string) (Key, error) {
	if err := checkID(id); err != nil {
		return Key{}, err
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("seal: generating key: %w", err)
	}
	return Key{ID: id, Secret: secret}, nil
}

type ringKey struct {
	id   string
	raw  []byte
	aead cipher.AEAD
}

// KeyRing seals with its primary (first) key and opens with any of its keys.
// It is immutable and safe for concurrent use.
type KeyRing struct {
	keys []ringKey
	byID map[string]*ringKey
}

// NewKeyRing returns a ring of the given keys; the first is the primary. Every
// key must be exactly KeySize bytes and ids must be valid and unique. The
// secrets are copied.
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	r := &KeyRing{keys: make([]ringKey, 0, len(keys)), byID: make(map[string]*ringKey, len(keys))}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := checkID(k.ID); err != nil {
			return nil, err
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("seal: key %q is %d bytes, want %d (AES-256)", k.ID, len(k.Secret), KeySize)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("seal: key id %q appears twice", k.ID)
		}
		seen[k.ID] = true
		raw := append([]byte(nil), k.Secret...)
		sk, err := hkdf.Key(sha256.New, raw, nil, sealInfo, KeySize)
		if err != nil {
			return nil, fmt.Errorf("seal: deriving key %q: %w", k.ID, err)
		}
		block, err := aes.NewCipher(sk)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", k.ID, err)
		}
		r.keys = append(r.keys, ringKey{id: k.ID, raw: raw, aead: aead})
	}
	for i := range r.keys {
		r.byID[r.keys[i].id] = &r.keys[i]
	}
	return r, nil
}

// ParseKeyRing reads a ring from "id:base64key" pairs separated by commas,
// whitespace or newlines; the first pair is the primary. The key is standard
// or URL-safe base64, padded or not, and must decode to exactly 32 bytes.
// Errors name the offending key id or position, never the key.
func ParseKeyRing(s string) (*KeyRing, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, ErrNoKeys
	}
	keys := make([]Key, 0, len(fields))
	for i, f := range fields {
		id, b64, ok := strings.Cut(f, ":")
		if !ok {
			return nil, fmt.Errorf("seal: key #%d: want id:base64key", i+1)
		}
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("seal: key #%d: %w", i+1, err)
		}
		secret, err := decodeBase64(b64)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: not valid base64", id)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return NewKeyRing(keys...)
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("seal: key id must be 1 to %d characters", maxIDLen)
	}
	for _, c := range id {
		if !idRune(c) {
			return errors.New("seal: key id may hold only letters, digits, '_' and '-'")
		}
	}
	return nil
}

func idRune(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		return true
	}
	return false
}

// PrimaryID returns the id of the key new ciphertexts are sealed with.
func (r *KeyRing) PrimaryID() string { return r.keys[0].id }

// IDs returns the ids of the ring's keys, primary first.
func (r *KeyRing) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Seal encrypts plaintext under the primary key, binding it to context (for
// example a link id and field name, see Context). The result is text safe to
// store in any column.
func (r *KeyRing) Seal(plaintext []byte, context []byte) (string, error) {
	k := &r.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, plaintext, associatedData(k.id, context))
	return k.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context. It fails with
// ErrUnknownKey when the ring lacks the ciphertext's key and with ErrOpen when
// the value is malformed, tampered with or bound to another context.
func (r *KeyRing) Open(sealed string, context []byte) ([]byte, error) {
	id, b64, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, ErrOpen
	}
	k := r.byID[id]
	if k == nil {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, ErrOpen
	}
	ns := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, raw[:ns], raw[ns:], associatedData(id, context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// NeedsRewrap reports whether a sealed value was made with a key other than
// the primary (or is not a sealed value at all). It does not decrypt.
func (r *KeyRing) NeedsRewrap(sealed string) bool {
	return KeyID(sealed) != r.keys[0].id
}

// Rewrap opens a sealed value and, when it was sealed under another key than
// the primary, seals it again under the primary with the same context. It
// returns the value unchanged (and false) when it already uses the primary.
func (r *KeyRing) Rewrap(sealed string, context []byte) (string, bool, error) {
	if !r.NeedsRewrap(sealed) {
		return sealed, false, nil
	}
	pt, err := r.Open(sealed, context)
	if err != nil {
		return "", false, err
	}
	out, err := r.Seal(pt, context)
	clear(pt)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// KeyID returns the key id a sealed value names, or "" when it has none.
func KeyID(sealed string) string {
	id, _, ok := strings.Cut(sealed, ":")
	if !ok {
		return ""
	}
	return id
}

// SubKey derives a 32-byte key for purpose (for example "oauth-state") from
// the primary key with HKDF-SHA256. Different purposes get independent keys,
// none equal to the sealing key.
func (r *KeyRing) SubKey(purpose string) ([]byte, error) {
	return subKey(r.keys[0].raw, purpose)
}

// SubKeys derives the purpose's subkey from every key of the ring, primary
// first, so that values signed before a rotation can still be verified.
func (r *KeyRing) SubKeys(purpose string) ([][]byte, error) {
	out := make([][]byte, 0, len(r.keys))
	for _, k := range r.keys {
		sk, err := subKey(k.raw, purpose)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}

func subKey(raw []byte, purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, errors.New("seal: subkey purpose is empty")
	}
	k, err := hkdf.Key(sha256.New, raw, nil, subKeyInfoPfx+purpose, KeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: deriving subkey: %w", err)
	}
	return k, nil
}

// Context builds an unambiguous sealing context from parts (for example a
// link id and a field name): each part is length-prefixed, so ("ab", "c")
// and ("a", "bc") differ.
func Context(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func associatedData(keyID string, context []byte) []byte {
	b := make([]byte, 0, len(adPrefix)+1+len(keyID)+1+len(context))
	b = append(b, adPrefix...)
	b = append(b, 0)
	b = append(b, keyID...)
	b = append(b, 0)
	return append(b, context...)
}
