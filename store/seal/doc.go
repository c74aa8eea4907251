// Package seal encrypts secrets at rest with a ring of AES-256 keys.
//
// A [KeyRing] holds one or more 32-byte master keys, each with a short id. The
// first key is the primary: [KeyRing.Seal] always uses it, while
// [KeyRing.Open] accepts a ciphertext sealed under any key of the ring, so keys
// can be rotated by putting a new key first, rewrapping every stored secret
// (the durable stores' Rewrap) and then dropping the old key.
//
// Sealing uses AES-256-GCM with a random 96-bit nonce. A sealed value is text:
//
//	<key id>:<base64url(nonce || ciphertext || tag)>
//
// Every Seal and Open names a context (for stores: the link id and the field),
// which is authenticated as associated data: a ciphertext copied to another
// row or field fails to open.
//
// Master keys are never used directly. Each use gets its own subkey derived
// with HKDF-SHA256: sealing uses one, and [KeyRing.SubKey] gives other
// purposes theirs (for example signing OAuth state), so that one use can never
// be turned against another.
//
// [ParseKeyRing] reads keys in the form the daemon's OHX_SECRET_KEYS variable
// holds them ("id:base64key,id:base64key"); [GenerateKey] makes a new one.
// No key, plaintext or ciphertext ever appears in an error string.
package seal
