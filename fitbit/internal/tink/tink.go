// Package tink reads the two Tink formats of Google Health API webhooks:
// the JSON public keyset Google serves and the signature header of each
// notification (0x01 ‖ key id ‖ DER ECDSA P-256 SHA-256 signature). It
// holds the parsing and the verification only; fetching and caching the
// keyset is the fitbit provider's job. It is internal: users verify
// notifications by mounting fitbit.Provider.WebhookHandler.
package tink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// tinkPrefix is the output prefix byte of a TINK key.
const tinkPrefix = 0x01

// ecdsaPublicKeyType is the Tink type URL of an ECDSA public key.
const ecdsaPublicKeyType = "type.googleapis.com/google.crypto.tink.EcdsaPublicKey"

// ErrUnknownKey says a signature names a key id the keyset does not hold.
var ErrUnknownKey = errors.New("fitbit: signature key not in keyset")

// Keyset is the Tink JSON form of a public keyset, as Google serves it
// for webhook signatures.
type Keyset struct {
	PrimaryKeyID uint32 `json:"primaryKeyId"`
	Key          []Key  `json:"key"`
}

// Key is one key of a Keyset.
type Key struct {
	KeyID            uint32  `json:"keyId"`
	Status           string  `json:"status"`
	OutputPrefixType string  `json:"outputPrefixType"`
	KeyData          KeyData `json:"keyData"`
}

// KeyData holds a serialized key proto.
type KeyData struct {
	TypeURL         string `json:"typeUrl"`
	KeyMaterialType string `json:"keyMaterialType"`
	// Value is the base64 of the serialized EcdsaPublicKey proto.
	Value string `json:"value"`
}

// ParseKeyset decodes a Tink JSON keyset and returns its enabled ECDSA P-256
// SHA-256 keys by key id. Keys of other kinds are ignored.
func ParseKeyset(b []byte) (map[uint32]*ecdsa.PublicKey, error) {
	var ks Keyset
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, fmt.Errorf("fitbit: decode keyset: %w", err)
	}
	keys := map[uint32]*ecdsa.PublicKey{}
	for _, k := range ks.Key {
		if k.Status != "ENABLED" || k.KeyData.TypeURL != ecdsaPublicKeyType {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(k.KeyData.Value)
		if err != nil {
			return nil, fmt.Errorf("fitbit: keyset key %d: bad base64", k.KeyID)
		}
		pub, err := parseEcdsaPublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("fitbit: keyset key %d: %w", k.KeyID, err)
		}
		keys[k.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("fitbit: keyset holds no enabled ECDSA key")
	}
	return keys, nil
}

// parseEcdsaPublicKey reads a Tink EcdsaPublicKey proto:
// {1: version, 2: params {1: hash, 2: curve, 3: encoding}, 3: x, 4: y}.
func parseEcdsaPublicKey(b []byte) (*ecdsa.PublicKey, error) {
	var x, y, params []byte
	if err := walkProto(b, func(field int, v uint64, bytes []byte) {
		switch field {
		case 2:
			params = bytes
		case 3:
			x = bytes
		case 4:
			y = bytes
		}
	}); err != nil {
		return nil, err
	}
	if params != nil {
		var hash, curve, enc uint64
		if err := walkProto(params, func(field int, v uint64, _ []byte) {
			switch field {
			case 1:
				hash = v
			case 2:
				curve = v
			case 3:
				enc = v
			}
		}); err != nil {
			return nil, err
		}
		// Tink enums: SHA256 = 3, NIST_P256 = 2, DER = 2.
		if (hash != 0 && hash != 3) || (curve != 0 && curve != 2) || (enc != 0 && enc != 2) {
			return nil, errors.New("not an ECDSA P-256 SHA-256 DER key")
		}
	}
	x, y = trimCoord(x), trimCoord(y)
	if x == nil || y == nil {
		return nil, errors.New("bad point")
	}
	point := make([]byte, 65)
	point[0] = 4
	copy(point[33-len(x):33], x)
	copy(point[65-len(y):], y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, errors.New("point not on P-256")
	}
	return pub, nil
}

// trimCoord drops the leading zero bytes Tink may write before a
// coordinate; nil means it does not fit 32 bytes.
func trimCoord(b []byte) []byte {
	for len(b) > 32 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 32 {
		return nil
	}
	return b
}

// walkProto calls fn for each field of a serialized proto: varints with v,
// length-delimited fields with bytes.
func walkProto(b []byte, fn func(field int, v uint64, bytes []byte)) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad proto tag")
		}
		b = b[n:]
		field, wt := int(tag>>3), tag&7
		switch wt {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errors.New("bad proto varint")
			}
			b = b[n:]
			fn(field, v, nil)
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("bad proto length")
			}
			fn(field, 0, b[n:n+int(l)])
			b = b[n+int(l):]
		case 1:
			if len(b) < 8 {
				return errors.New("bad proto fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return errors.New("bad proto fixed32")
			}
			b = b[4:]
		default:
			return errors.New("bad proto wire type")
		}
	}
	return nil
}

// ParseSignature decodes a signature header: base64 of 0x01 ‖ 4-byte
// big-endian key id ‖ DER ECDSA signature.
func ParseSignature(header string) (keyID uint32, sig []byte, err error) {
	header = strings.TrimSpace(header)
	var raw []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(header); err == nil {
			break
		}
	}
	if err != nil {
		return 0, nil, errors.New("fitbit: signature is not base64")
	}
	if len(raw) < 1+4+8 || raw[0] != tinkPrefix {
		return 0, nil, errors.New("fitbit: signature has no Tink prefix")
	}
	return binary.BigEndian.Uint32(raw[1:5]), raw[5:], nil
}

// Verify checks header (see ParseSignature) over body against keys.
func Verify(keys map[uint32]*ecdsa.PublicKey, header string, body []byte) error {
	id, sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	pub := keys[id]
	if pub == nil {
		return ErrUnknownKey
	}
	sum := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, sum[:], sig) {
		return errors.New("fitbit: signature does not verify")
	}
	return nil
}
