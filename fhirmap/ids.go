package fhirmap

import (
	"crypto/sha1" // UUID v5 is defined over SHA-1 (RFC 4122 §4.3); not used for security.
	"encoding/hex"
	"time"

	"github.com/google/uuid"
	"github.com/openhealthexchange/ohx"
)

// idNamespace is the UUID v5 namespace of every ohx resource id. It is fixed
// (derived from the name "urn:ohx" in the URL namespace) and does not follow
// the configurable base URI, so renaming identifier systems never changes
// resource ids.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ohx"))

// keySep separates the parts of an id key; it cannot occur in provider ids,
// type names or RFC 3339 times, so two different part lists never collide.
const keySep = '\x1f'

// DeterministicID returns the UUID v5 (lower case, 36 characters, a valid
// FHIR id) of the key formed by parts, joined with the unit separator U+001F.
// The same parts always give the same id, on any machine, which is what makes
// publishing idempotent.
func DeterministicID(parts ...string) string {
	var buf [256]byte
	k := newKey(buf[:0], parts[0])
	for _, p := range parts[1:] {
		k = k.str(p)
	}
	return k.id()
}

// key builds the name of a UUID v5 without allocating for typical sizes.
type key []byte

func newKey(buf []byte, first string) key {
	b := append(buf, idNamespace[:]...)
	return key(append(b, first...))
}

func (k key) str(s string) key {
	k = append(k, keySep)
	return append(k, s...)
}

func (k key) time(t time.Time) key {
	k = append(k, keySep)
	return t.UTC().AppendFormat(k, time.RFC3339Nano)
}

// id hashes the key as RFC 4122 §4.3 does (SHA-1 over namespace and name,
// version 5, variant 10) and renders the canonical lower-case form.
func (k key) id() string {
	out := k.idBytes()
	return string(out[:])
}

// idBytes is id without the string, for a caller that writes it into
// something larger.
func (k key) idBytes() [36]byte {
	sum := sha1.Sum(k)
	sum[6] = (sum[6] & 0x0f) | 0x50
	sum[8] = (sum[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], sum[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], sum[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], sum[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], sum[8:10])
	out[23] = '-'
	hex.Encode(out[24:], sum[10:16])
	return out
}

// FullURL returns the urn:uuid fullUrl of a resource whose id is a UUID, as
// used for entries of a transaction Bundle. A re-run builds the same bundle
// because the ids are deterministic.
func FullURL(id string) string {
	return "urn:uuid:" + id
}

// SampleID returns the deterministic id of the Observation a sample maps to:
// UUID v5 over provider, provider user, data type and the provider's record
// id, or, without a record id, the exact start and end instants and the
// source device. An hourly aggregate's id is over the link's account (LinkKey), type and hour.
func SampleID(link *ohx.Link, s *ohx.Sample) string {
	id := sampleID(link, s)
	return string(id[:])
}

// sampleID is SampleID without the string.
func sampleID(link *ohx.Link, s *ohx.Sample) [36]byte {
	var buf [320]byte
	if s.Aggregate != nil {
		return newKey(buf[:0], "hourly").str(LinkKey(link)).str(string(s.Type)).time(s.Start).idBytes()
	}
	provider := s.Provider
	if provider == "" {
		provider = link.Provider
	}
	user := link.ExternalUserID
	if user == "" {
		user = link.ID
	}
	k := newKey(buf[:0], "sample").str(provider).str(user).str(string(s.Type))
	if s.RecordID != "" {
		return k.str("record").str(s.RecordID).idBytes()
	}
	return k.str("time").time(s.Start).time(s.End).str(s.DeviceID).idBytes()
}

// DeviceID returns the deterministic id of the Device a provider device maps
// to: UUID v5 over the provider and the provider's device id.
func DeviceID(provider, providerDeviceID string) string {
	var buf [256]byte
	return newKey(buf[:0], "device").str(provider).str(providerDeviceID).id()
}

// LinkKey identifies a link's account in deterministic ids: the provider and
// the provider's user id, so a patient who unlinks and links the same account
// again (a new ohx link id) gets the same resource ids, and nothing is
// duplicated at the destination. A link without external user id falls back
// to its ohx id.
func LinkKey(link *ohx.Link) string {
	if link.ExternalUserID == "" {
		return link.ID
	}
	return link.Provider + "/" + link.ExternalUserID
}
