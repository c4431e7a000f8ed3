package oidcprovider

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// signingKey is an ES256 or RS256 key; it serves as both op.SigningKey
// and op.Key.
type signingKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	priv    crypto.Signer
	created time.Time

	// signer signs with the key (see sign), built on first use.
	signerOnce sync.Once
	signer     jose.Signer
	signerErr  error
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Algorithm() jose.SignatureAlgorithm          { return k.alg }
func (k *signingKey) Use() string                                 { return "sig" }
func (k *signingKey) ID() string                                  { return k.id }

// Key is the private key when signing; publicKey serves the key set.
func (k *signingKey) Key() any { return k.priv }

type publicKey struct{ *signingKey }

func (k publicKey) Key() any { return k.priv.Public() }

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

// signingAlgs are the algorithms Assent signs with: ES256 for everyone,
// RS256 for clients that cannot verify anything else.
var signingAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// loadKeys returns the stored signing keys, oldest first, creating and
// storing the first ES256 key on a new store (an RS256 key is made when a
// client first needs one). Private keys are sealed with aead, bound to
// their key id.
func loadKeys(ctx context.Context, st store.Store, aead cipher.AEAD, now time.Time) ([]*signingKey, error) {
	stored, err := st.ListOIDCSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(stored, func(k store.OIDCSigningKey) bool { return k.Algorithm == string(jose.ES256) }) {
		k, err := newSigningKey(aead, jose.ES256, now)
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
		if !slices.Contains(signingAlgs, jose.SignatureAlgorithm(s.Algorithm)) {
			continue
		}
		k, err := openSigningKey(aead, s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing key")
	}
	return keys, nil
}

// openSigningKey unseals and parses a stored key.
func openSigningKey(aead cipher.AEAD, s store.OIDCSigningKey) (*signingKey, error) {
	der, err := openKey(aead, s)
	if err != nil {
		return nil, fmt.Errorf("open signing key %s: %w", s.ID, err)
	}
	var priv crypto.Signer
	switch jose.SignatureAlgorithm(s.Algorithm) {
	case jose.ES256:
		priv, err = x509.ParseECPrivateKey(der)
	case jose.RS256:
		priv, err = x509.ParsePKCS1PrivateKey(der)
	default:
		err = fmt.Errorf("unknown algorithm %q", s.Algorithm)
	}
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", s.ID, err)
	}
	return &signingKey{id: s.ID, alg: jose.SignatureAlgorithm(s.Algorithm), priv: priv, created: s.CreatedAt}, nil
}

// newSigningKey generates an ES256 (P-256) or RS256 (RSA 2048) key and
// seals it.
func newSigningKey(aead cipher.AEAD, alg jose.SignatureAlgorithm, now time.Time) (store.OIDCSigningKey, error) {
	var der []byte
	switch alg {
	case jose.ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return store.OIDCSigningKey{}, err
		}
		if der, err = x509.MarshalECPrivateKey(priv); err != nil {
			return store.OIDCSigningKey{}, err
		}
	case jose.RS256:
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return store.OIDCSigningKey{}, err
		}
		der = x509.MarshalPKCS1PrivateKey(priv)
	default:
		return store.OIDCSigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	id := make([]byte, 12)
	rand.Read(id)
	k := store.OIDCSigningKey{CreatedAt: now.UTC()}
	k.ID = base64.RawURLEncoding.EncodeToString(id)
	k.Algorithm = string(alg)
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

// keyRing holds the signing keys of every algorithm, oldest first. The
// newest key of an algorithm signs; it is replaced once it is older than
// rotate, and a replaced key stays published for publish after its
// successor took over, so tokens it signed still verify until they expire.
type keyRing struct {
	mu      sync.Mutex
	keys    []*signingKey
	st      store.Store
	aead    cipher.AEAD
	now     func() time.Time
	rotate  time.Duration
	publish time.Duration
}

// newest returns the newest key of alg, or nil.
func (r *keyRing) newest(alg jose.SignatureAlgorithm) *signingKey {
	for i := len(r.keys) - 1; i >= 0; i-- {
		if r.keys[i].alg == alg {
			return r.keys[i]
		}
	}
	return nil
}

// signing returns the key to sign with for alg, making the first key of
// the algorithm or rotating first when it is due.
func (r *keyRing) signing(ctx context.Context, alg jose.SignatureAlgorithm) (*signingKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	newest := r.newest(alg)
	now := r.now()
	if newest != nil && now.Sub(newest.created) < r.rotate {
		return newest, nil
	}
	k, err := newSigningKey(r.aead, alg, now)
	if err != nil {
		return nil, err
	}
	if err := r.st.PutOIDCSigningKey(ctx, k); err != nil {
		return nil, fmt.Errorf("store rotated signing key: %w", err)
	}
	next, err := openSigningKey(r.aead, k)
	if err != nil {
		return nil, err
	}
	r.keys = append(r.keys, next)
	return next, nil
}

// published returns the keys relying parties may still meet: the newest of
// each algorithm, and every older one whose successor of the same
// algorithm is younger than publish.
func (r *keyRing) published() []*signingKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*signingKey
	for i, k := range r.keys {
		next := -1
		for j := i + 1; j < len(r.keys); j++ {
			if r.keys[j].alg == k.alg {
				next = j
				break
			}
		}
		if next < 0 || now.Sub(r.keys[next].created) < r.publish {
			out = append(out, k)
		}
	}
	// In the store's order (by creation, then id), so the set reads the
	// same after a restart.
	slices.SortStableFunc(out, func(a, b *signingKey) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}
