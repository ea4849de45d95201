package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// NewToken returns a fresh bearer token with 256 random bits and the hash
// to store for it. The plain token is shown to its owner once and never
// stored or logged.
func NewToken(prefix string) (plain string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	plain = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return plain, HashToken(plain)
}

// HashToken is the stored form of a bearer token. Tokens carry 256 random
// bits, so a fast unsalted hash cannot be brute-forced; a slow KDF would
// only add latency to every request.
func HashToken(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}

// TokenMatches compares a presented token with a stored hash in constant
// time.
func TokenMatches(plain string, hash []byte) bool {
	h := HashToken(plain)
	return len(hash) == len(h) && subtle.ConstantTimeCompare(h, hash) == 1
}

// AcceptsToken reports whether token is the directory's SCIM token, or
// the previous one while now is before its expiry. Expiry is checked on
// every request against the stored time, so a cached directory stops
// accepting the previous token on time without being told. Both hashes
// are compared in constant time whatever the outcome.
func (d Directory) AcceptsToken(token string, now time.Time) bool {
	h := HashToken(token)
	current := len(d.SCIMTokenHash) == len(h) && subtle.ConstantTimeCompare(h, d.SCIMTokenHash) == 1
	previous := len(d.PreviousTokenHash) == len(h) && subtle.ConstantTimeCompare(h, d.PreviousTokenHash) == 1
	return current || previous && now.Before(d.PreviousTokenExpires)
}
