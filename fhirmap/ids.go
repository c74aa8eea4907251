package fhirmap

import (
	"strings"

	"github.com/google/uuid"
)

// idNamespace is the UUID v5 namespace of every ohx resource id. It is fixed
// (derived from the name "urn:ohx" in the URL namespace) and does not follow
// the configurable base URI, so renaming identifier systems never changes
// resource ids.
var idNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:ohx"))

// keySep separates the parts of an id key; it cannot occur in provider ids,
// type names or RFC 3339 times, so two different part lists never collide.
const keySep = "\x1f"

// DeterministicID returns the UUID v5 (lower case, 36 characters, a valid
// FHIR id) of the key formed by parts. The same parts always give the same
// id, on any machine, which is what makes publishing idempotent.
func DeterministicID(parts ...string) string {
	return uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, keySep))).String()
}

// FullURL returns the urn:uuid fullUrl of a resource whose id is a UUID, as
// used for entries of a transaction Bundle. A re-run builds the same bundle
// because the ids are deterministic.
func FullURL(id string) string {
	return "urn:uuid:" + id
}
