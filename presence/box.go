package presence

import (
	"errors"
	"fmt"

	"github.com/scimd/scimd/internal/seal"
)

// box seals credentials (internal/seal). The directory id is the
// additional data, so a sealed credential copied to another directory's
// row does not open there.
type box struct{ b *seal.Box }

func newBox(key []byte) (*box, error) {
	b, err := seal.New(key)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	return &box{b}, nil
}

// seal returns nonce || ciphertext.
func (b *box) seal(directoryID string, plain []byte) []byte { return b.b.Seal(directoryID, plain) }

var errUnseal = errors.New("the stored Graph credential cannot be decrypted: SCIMD_SECRET_KEY differs from the key it was stored with; connect presence again")

func (b *box) open(directoryID string, sealed []byte) ([]byte, error) {
	plain, err := b.b.Open(directoryID, sealed)
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}
