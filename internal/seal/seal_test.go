package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := b.Seal("dir-1", []byte("secret"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed value holds the plain text")
	}
	if got, err := b.Open("dir-1", sealed); err != nil || string(got) != "secret" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := b.Open("dir-2", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other additional data: %v, want ErrOpen", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open("dir-1", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with another key: %v, want ErrOpen", err)
	}
	if _, err := b.Open("dir-1", sealed[:5]); !errors.Is(err, ErrOpen) {
		t.Errorf("Open of a truncated value: %v, want ErrOpen", err)
	}
	if _, err := New(key[:16]); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}
