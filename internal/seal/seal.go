// Package seal encrypts the secrets scimd must use again (Graph
// credentials, webhook signing secrets) with SCIMD_SECRET_KEY, so that a
// copy of the database alone does not reveal them.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Box seals with AES-256-GCM. The caller's additional data (a directory
// id, a webhook id) binds a sealed value to its row: copied to another
// row, it does not open.
type Box struct{ aead cipher.AEAD }

// ErrOpen is Open's only error: the key differs, or the value was
// tampered with or moved.
var ErrOpen = errors.New("seal: cannot decrypt")

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: secret key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead}, nil
}

// Seal returns nonce || ciphertext of plain, bound to ad.
func (b *Box) Seal(ad string, plain []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return b.aead.Seal(nonce, nonce, plain, []byte(ad))
}

// Open returns what Seal sealed with the same key and ad.
func (b *Box) Open(ad string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
