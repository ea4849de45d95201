package presence

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// box seals credentials with AES-256-GCM. The directory id is the
// additional data, so a sealed credential copied to another directory's
// row does not open there.
type box struct{ aead cipher.AEAD }

func newBox(key []byte) (*box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("presence: secret key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &box{aead}, nil
}

// seal returns nonce || ciphertext.
func (b *box) seal(directoryID string, plain []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return b.aead.Seal(nonce, nonce, plain, []byte(directoryID))
}

var errUnseal = errors.New("the stored Graph credential cannot be decrypted: SCIMD_SECRET_KEY differs from the key it was stored with; connect presence again")

func (b *box) open(directoryID string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errUnseal
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(directoryID))
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}
