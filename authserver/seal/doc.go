// Package seal encrypts small secrets at rest (signing keys, server
// secrets) under a key-encryption key (KEK) that never reaches the store.
//
// A Sealer holds one or more 32-byte KEKs. It always seals with the first
// and opens with whichever configured key the sealed value names, so a KEK
// is rotated by deploying New(newKey, oldKey), re-sealing what matters, and
// later dropping oldKey.
//
// Sealed format (version 1), all fields concatenated:
//
//	version   1 byte   always 0x01
//	key id    4 bytes  first 4 bytes of SHA-256(KEK); a hint, not a secret
//	nonce    12 bytes  random, from crypto/rand
//	box       n+16     AES-256-GCM ciphertext and tag
//
// Invariants:
//   - The version byte and key id are authenticated: they are prefixed to the
//     caller's associated data, so neither can be altered without Open
//     failing.
//   - Associated data binds a value to its purpose (for example a signing
//     key's kid or a secret's name). Opening with different associated data
//     fails, so sealed blobs cannot be swapped between records.
//   - Nonces are random (96 bits). A single KEK must not seal more than 2^32
//     values (NIST SP 800-38D §8.3); Gatehouse seals a handful of keys and
//     secrets, far below that.
//   - Errors never contain key material, plaintext or the sealed value.
package seal
