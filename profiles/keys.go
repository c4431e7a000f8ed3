package profiles

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MasterKeySize is the length in bytes of the master key.
const MasterKeySize = 32

// errSealed is returned when sealed data cannot be opened: a wrong master
// key, a tampered record, or a key destroyed by erasure.
var errSealed = errors.New("profiles: sealed data cannot be opened")

// Keyring holds the keys derived from the master key: one wraps per-user
// data keys, the other keys the e-mail index. It is safe for concurrent use.
type Keyring struct {
	master   []byte
	wrap     cipher.AEAD
	indexKey []byte
}

// NewKeyring derives the keyring from a 32-byte master key with HKDF-SHA256.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	wrapKey, err := hkdf.Key(sha256.New, master, nil, "assent data-key wrapping v1", 32)
	if err != nil {
		return nil, err
	}
	indexKey, err := hkdf.Key(sha256.New, master, nil, "assent e-mail index v1", 32)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(wrapKey)
	if err != nil {
		return nil, err
	}
	return &Keyring{master: bytes.Clone(master), wrap: aead, indexKey: indexKey}, nil
}

// AEAD returns an AES-256-GCM cipher under a key derived from the master
// key for one purpose (for example "totp seeds v1"), so that other packages
// can seal their secrets at rest without seeing the master key. Different
// purposes get independent keys.
func (k *Keyring) AEAD(purpose string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, k.master, nil, "assent purpose: "+purpose, 32)
	if err != nil {
		return nil, err
	}
	return newGCM(key)
}

// EmailIndex returns the keyed hash under which a normalised e-mail is
// indexed. Without the master key the index reveals nothing about it.
func (k *Keyring) EmailIndex(normalized string) []byte {
	m := hmac.New(sha256.New, k.indexKey)
	m.Write([]byte(normalized))
	return m.Sum(nil)
}

// newDataKey returns a fresh per-user data key and its wrapped form, bound
// to the user id so a wrapped key cannot be moved to another user.
func (k *Keyring) newDataKey(userID string) (dek, wrapped []byte) {
	dek = make([]byte, 32)
	rand.Read(dek)
	return dek, seal(k.wrap, dek, []byte("dek:"+userID))
}

func (k *Keyring) unwrap(userID string, wrapped []byte) ([]byte, error) {
	return open(k.wrap, wrapped, []byte("dek:"+userID))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal encrypts plaintext with a random nonce, which it prepends.
func seal(aead cipher.AEAD, plaintext, aad []byte) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, aad)
}

func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, errSealed
	}
	pt, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errSealed
	}
	return pt, nil
}
