package oidcprovider

import (
	"context"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// signingKey is an ES256 key; it serves as both op.SigningKey and op.Key.
type signingKey struct {
	id      string
	priv    *ecdsa.PrivateKey
	created time.Time
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *signingKey) Algorithm() jose.SignatureAlgorithm          { return jose.ES256 }
func (k *signingKey) Use() string                                 { return "sig" }
func (k *signingKey) ID() string                                  { return k.id }

// Key is the private key when signing; publicKey serves the key set.
func (k *signingKey) Key() any { return k.priv }

type publicKey struct{ *signingKey }

func (k publicKey) Key() any { return &k.priv.PublicKey }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// loadKeys returns the stored signing keys, newest last, creating and
// storing the first ES256 key on a new store. Private keys are sealed with
// aead, bound to their key id.
func loadKeys(ctx context.Context, st store.Store, aead cipher.AEAD, now time.Time) ([]*signingKey, error) {
	stored, err := st.ListOIDCSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		k, err := newSigningKey(aead, now)
		if err != nil {
			return nil, err
		}
		err = st.PutOIDCSigningKey(ctx, k)
		if err != nil && !errors.Is(err, store.ErrExists) {
			return nil, err
		}
		if stored, err = st.ListOIDCSigningKeys(ctx); err != nil {
			return nil, err
		}
	}
	keys := make([]*signingKey, 0, len(stored))
	for _, s := range stored {
		if s.Algorithm != string(jose.ES256) {
			continue
		}
		der, err := openKey(aead, s)
		if err != nil {
			return nil, fmt.Errorf("open signing key %s: %w", s.ID, err)
		}
		priv, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("parse signing key %s: %w", s.ID, err)
		}
		keys = append(keys, &signingKey{id: s.ID, priv: priv, created: s.CreatedAt})
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing key")
	}
	return keys, nil
}

// newSigningKey generates an ES256 key and seals it.
func newSigningKey(aead cipher.AEAD, now time.Time) (store.OIDCSigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.OIDCSigningKey{}, err
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return store.OIDCSigningKey{}, err
	}
	id := make([]byte, 12)
	rand.Read(id)
	k := store.OIDCSigningKey{CreatedAt: now.UTC()}
	k.ID = base64.RawURLEncoding.EncodeToString(id)
	k.Algorithm = string(jose.ES256)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(der)+aead.Overhead())
	rand.Read(nonce)
	k.Sealed = aead.Seal(nonce, nonce, der, []byte("oidc signing key:"+k.ID))
	return k, nil
}

func openKey(aead cipher.AEAD, k store.OIDCSigningKey) ([]byte, error) {
	n := aead.NonceSize()
	if len(k.Sealed) < n {
		return nil, errors.New("sealed key too short")
	}
	return aead.Open(nil, k.Sealed[:n], k.Sealed[n:], []byte("oidc signing key:"+k.ID))
}

// keyRing holds the signing keys, oldest first. The newest signs; it is
// replaced once it is older than rotate, and a replaced key stays
// published for publish after its successor took over, so tokens it signed
// still verify until they expire.
type keyRing struct {
	mu      sync.Mutex
	keys    []*signingKey
	st      store.Store
	aead    cipher.AEAD
	now     func() time.Time
	rotate  time.Duration
	publish time.Duration
}

// signing returns the key to sign with, rotating first when it is due.
func (r *keyRing) signing(ctx context.Context) (*signingKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	newest := r.keys[len(r.keys)-1]
	now := r.now()
	if now.Sub(newest.created) < r.rotate {
		return newest, nil
	}
	k, err := newSigningKey(r.aead, now)
	if err != nil {
		return nil, err
	}
	if err := r.st.PutOIDCSigningKey(ctx, k); err != nil {
		return nil, fmt.Errorf("store rotated signing key: %w", err)
	}
	der, err := openKey(r.aead, k)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, err
	}
	next := &signingKey{id: k.ID, priv: priv, created: k.CreatedAt}
	r.keys = append(r.keys, next)
	return next, nil
}

// published returns the keys relying parties may still meet: the newest,
// and every older one whose successor is younger than publish.
func (r *keyRing) published() []*signingKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*signingKey
	for i, k := range r.keys {
		if i == len(r.keys)-1 || now.Sub(r.keys[i+1].created) < r.publish {
			out = append(out, k)
		}
	}
	return out
}
