package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// Since version 4: the OpenID Connect provider.
var (
	// oidc_clients: client id -> JSON store.OIDCClient.
	bucketOIDCClients = []byte("oidc_clients")
	// oidc_auth_requests: request id -> JSON store.OIDCAuthRequest.
	bucketOIDCAuthRequests = []byte("oidc_auth_requests")
	// oidc_codes: code hash -> request id.
	bucketOIDCCodes = []byte("oidc_codes")
	// oidc_refresh: token hash -> JSON store.OIDCRefreshToken.
	bucketOIDCRefresh = []byte("oidc_refresh")
	// oidc_refresh_by_user: user id, 0x00, token hash -> empty, so
	// DeleteUser finds a user's tokens by prefix.
	bucketOIDCRefreshByUser = []byte("oidc_refresh_by_user")
	// oidc_refresh_by_family: family, 0x00, token hash -> empty.
	bucketOIDCRefreshByFamily = []byte("oidc_refresh_by_family")
	// oidc_keys: key id -> JSON store.OIDCSigningKey.
	bucketOIDCKeys = []byte("oidc_keys")
)

// createOIDCBuckets is migration 4: the OpenID Connect provider's
// clients, authorization requests, refresh tokens and signing keys.
func createOIDCBuckets(tx *bbolt.Tx) error {
	return createBucketsNamed(tx,
		bucketOIDCClients, bucketOIDCAuthRequests, bucketOIDCCodes,
		bucketOIDCRefresh, bucketOIDCRefreshByUser, bucketOIDCRefreshByFamily, bucketOIDCKeys,
	)
}

// CreateOIDCClient inserts c; store.ErrExists if its ID is taken.
func (d *DB) CreateOIDCClient(ctx context.Context, c store.OIDCClient) error {
	if c.ID == "" {
		return errors.New("create client: empty id")
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCClients)
		if b.Get([]byte(c.ID)) != nil {
			return store.ErrExists
		}
		return b.Put([]byte(c.ID), v)
	})
	if err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, err)
	}
	return nil
}

// GetOIDCClient returns the client, or store.ErrNotFound.
func (d *DB) GetOIDCClient(ctx context.Context, id string) (store.OIDCClient, error) {
	var c store.OIDCClient
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketOIDCClients), []byte(id), &c)
	})
	if err != nil {
		return store.OIDCClient{}, fmt.Errorf("get client %q: %w", id, err)
	}
	return c, nil
}

// ListOIDCClients returns every stored client ordered by ID.
func (d *DB) ListOIDCClients(ctx context.Context) ([]store.OIDCClient, error) {
	var out []store.OIDCClient
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		out = nil
		return tx.Bucket(bucketOIDCClients).ForEach(func(_, v []byte) error {
			var c store.OIDCClient
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decode client: %w", err)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// DeleteOIDCClient removes the client and the refresh tokens issued to it
// in one transaction. It reads every refresh token.
func (d *DB) DeleteOIDCClient(ctx context.Context, id string) error {
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCClients)
		if b.Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		var doomed []store.OIDCRefreshToken
		err := tx.Bucket(bucketOIDCRefresh).ForEach(func(k, v []byte) error {
			t, err := decodeRefresh(k, v)
			if err != nil {
				return err
			}
			if t.ClientID == id {
				doomed = append(doomed, t)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range doomed {
			if err := deleteRefresh(tx, t); err != nil {
				return err
			}
		}
		if err := deleteClientConsents(tx, id); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}

// CreateOIDCAuthRequest inserts r; store.ErrExists if its ID is taken.
func (d *DB) CreateOIDCAuthRequest(ctx context.Context, r store.OIDCAuthRequest) error {
	if r.ID == "" {
		return errors.New("create auth request: empty id")
	}
	r.CodeHash = nil
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCAuthRequests)
		if b.Get([]byte(r.ID)) != nil {
			return store.ErrExists
		}
		return b.Put([]byte(r.ID), v)
	})
	if err != nil {
		return fmt.Errorf("create auth request: %w", err)
	}
	return nil
}

// GetOIDCAuthRequest returns the request, or store.ErrNotFound.
func (d *DB) GetOIDCAuthRequest(ctx context.Context, id string) (store.OIDCAuthRequest, error) {
	var r store.OIDCAuthRequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketOIDCAuthRequests), []byte(id), &r)
	})
	if err != nil {
		return store.OIDCAuthRequest{}, fmt.Errorf("get auth request: %w", err)
	}
	return r, nil
}

// UpdateOIDCAuthRequest applies fn to the request in one transaction.
func (d *DB) UpdateOIDCAuthRequest(ctx context.Context, id string, fn func(store.OIDCAuthRequest) (store.OIDCAuthRequest, error)) (store.OIDCAuthRequest, error) {
	var out store.OIDCAuthRequest
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCAuthRequests)
		var old store.OIDCAuthRequest
		if err := getJSON(b, []byte(id), &old); err != nil {
			return err
		}
		r, err := fn(old)
		if err != nil {
			return err
		}
		r.ID, r.CodeHash = old.ID, old.CodeHash
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		out = r
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return store.OIDCAuthRequest{}, fmt.Errorf("update auth request: %w", err)
	}
	return out, nil
}

// SetOIDCAuthCode attaches codeHash to the request.
func (d *DB) SetOIDCAuthCode(ctx context.Context, id string, codeHash []byte) error {
	if len(codeHash) == 0 {
		return errors.New("set auth code: empty code hash")
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCAuthRequests)
		var r store.OIDCAuthRequest
		if err := getJSON(b, []byte(id), &r); err != nil {
			return err
		}
		codes := tx.Bucket(bucketOIDCCodes)
		if len(r.CodeHash) > 0 || codes.Get(codeHash) != nil {
			return store.ErrExists
		}
		r.CodeHash = codeHash
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := codes.Put(codeHash, []byte(id)); err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("set auth code: %w", err)
	}
	return nil
}

// GetOIDCAuthRequestByCode returns the request holding codeHash.
func (d *DB) GetOIDCAuthRequestByCode(ctx context.Context, codeHash []byte) (store.OIDCAuthRequest, error) {
	var r store.OIDCAuthRequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if len(codeHash) == 0 {
			return store.ErrNotFound
		}
		id := tx.Bucket(bucketOIDCCodes).Get(codeHash)
		if id == nil {
			return store.ErrNotFound
		}
		return getJSON(tx.Bucket(bucketOIDCAuthRequests), id, &r)
	})
	if err != nil {
		return store.OIDCAuthRequest{}, fmt.Errorf("get auth request by code: %w", err)
	}
	return r, nil
}

// DeleteOIDCAuthRequest removes the request and its code.
func (d *DB) DeleteOIDCAuthRequest(ctx context.Context, id string) error {
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		return deleteAuthRequest(tx, []byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete auth request: %w", err)
	}
	return nil
}

// DeleteExpiredOIDCAuthRequests removes the requests whose ExpiresAt is
// before now. It reads every request.
func (d *DB) DeleteExpiredOIDCAuthRequests(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		var expired [][]byte
		err := tx.Bucket(bucketOIDCAuthRequests).ForEach(func(k, v []byte) error {
			var r store.OIDCAuthRequest
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode auth request: %w", err)
			}
			if r.ExpiresAt.Before(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := deleteAuthRequest(tx, k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired auth requests: %w", err)
	}
	return n, nil
}

func deleteAuthRequest(tx *bbolt.Tx, id []byte) error {
	b := tx.Bucket(bucketOIDCAuthRequests)
	var r store.OIDCAuthRequest
	if err := getJSON(b, id, &r); err != nil {
		return err
	}
	if len(r.CodeHash) > 0 {
		if err := tx.Bucket(bucketOIDCCodes).Delete(r.CodeHash); err != nil {
			return err
		}
	}
	return b.Delete(id)
}

// CreateOIDCRefreshToken inserts t.
func (d *DB) CreateOIDCRefreshToken(ctx context.Context, t store.OIDCRefreshToken) error {
	if err := validRefresh(t); err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error { return putRefresh(tx, t) })
	if err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	return nil
}

// GetOIDCRefreshToken returns the token, or store.ErrNotFound.
func (d *DB) GetOIDCRefreshToken(ctx context.Context, tokenHash []byte) (store.OIDCRefreshToken, error) {
	var t store.OIDCRefreshToken
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		t, err = getRefresh(tx, tokenHash)
		return err
	})
	if err != nil {
		return store.OIDCRefreshToken{}, fmt.Errorf("get refresh token: %w", err)
	}
	return t, nil
}

// RotateOIDCRefreshToken spends the old token and inserts next, or on
// reuse of a spent token deletes the whole family. Concurrent calls are
// batched into shared commits, each still durable when it returns.
func (d *DB) RotateOIDCRefreshToken(ctx context.Context, oldHash []byte, next store.OIDCRefreshToken) error {
	if err := validRefresh(next); err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	var reused bool
	// Concurrent rotations share commits; batch may run this more than
	// once, and every run starts over from tx.
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		reused = false
		if len(oldHash) == 0 {
			return store.ErrNotFound
		}
		old, err := getRefresh(tx, oldHash)
		if err != nil {
			return err
		}
		if old.Spent {
			reused = true
			_, err := deleteFamily(tx, old.Family)
			return err
		}
		if next.Family != old.Family {
			return errors.New("next token is not in the old token's family")
		}
		old.Spent = true
		if err := tx.Bucket(bucketOIDCRefresh).Put(oldHash, encodeRefresh(old)); err != nil {
			return err
		}
		return putRefresh(tx, next)
	})
	if err == nil && reused {
		err = store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	return nil
}

// DeleteOIDCRefreshFamily removes every token of the family.
func (d *DB) DeleteOIDCRefreshFamily(ctx context.Context, family string) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = deleteFamily(tx, family)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete refresh family: %w", err)
	}
	return n, nil
}

// DeleteUserOIDCRefreshTokens removes every refresh token of the user.
func (d *DB) DeleteUserOIDCRefreshTokens(ctx context.Context, userID string) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = deleteRefreshIndexed(tx, bucketOIDCRefreshByUser, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete refresh tokens of user: %w", err)
	}
	return n, nil
}

// PutOIDCSigningKey inserts k.
func (d *DB) PutOIDCSigningKey(ctx context.Context, k store.OIDCSigningKey) error {
	if k.ID == "" {
		return errors.New("put signing key: empty id")
	}
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCKeys)
		if b.Get([]byte(k.ID)) != nil {
			return store.ErrExists
		}
		return b.Put([]byte(k.ID), v)
	})
	if err != nil {
		return fmt.Errorf("put signing key: %w", err)
	}
	return nil
}

// ListOIDCSigningKeys returns every signing key, oldest first.
func (d *DB) ListOIDCSigningKeys(ctx context.Context) ([]store.OIDCSigningKey, error) {
	var out []store.OIDCSigningKey
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		out = nil
		return tx.Bucket(bucketOIDCKeys).ForEach(func(_, v []byte) error {
			var k store.OIDCSigningKey
			if err := json.Unmarshal(v, &k); err != nil {
				return fmt.Errorf("decode signing key: %w", err)
			}
			out = append(out, k)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	slices.SortStableFunc(out, func(a, b store.OIDCSigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func validRefresh(t store.OIDCRefreshToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("empty token hash")
	}
	if t.Family == "" || bytes.IndexByte([]byte(t.Family), 0) >= 0 {
		return errors.New("invalid family")
	}
	return validUserID(t.UserID)
}

// putRefresh inserts t and its index entries inside tx.
func putRefresh(tx *bbolt.Tx, t store.OIDCRefreshToken) error {
	if tx.Bucket(bucketUsers).Get([]byte(t.UserID)) == nil {
		return store.ErrNotFound
	}
	b := tx.Bucket(bucketOIDCRefresh)
	if b.Get(t.TokenHash) != nil {
		return store.ErrExists
	}
	if err := b.Put(t.TokenHash, encodeRefresh(t)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOIDCRefreshByUser).Put(prefixedKey(t.UserID, t.TokenHash), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketOIDCRefreshByFamily).Put(prefixedKey(t.Family, t.TokenHash), nil)
}

// deleteRefresh removes t and its index entries inside tx.
func deleteRefresh(tx *bbolt.Tx, t store.OIDCRefreshToken) error {
	if err := tx.Bucket(bucketOIDCRefresh).Delete(t.TokenHash); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOIDCRefreshByUser).Delete(prefixedKey(t.UserID, t.TokenHash)); err != nil {
		return err
	}
	return tx.Bucket(bucketOIDCRefreshByFamily).Delete(prefixedKey(t.Family, t.TokenHash))
}

// deleteFamily removes every token of the family inside tx.
func deleteFamily(tx *bbolt.Tx, family string) (int, error) {
	return deleteRefreshIndexed(tx, bucketOIDCRefreshByFamily, family)
}

// deleteUserRefreshTokens removes every refresh token of the user inside
// tx; DeleteUser calls it.
func deleteUserRefreshTokens(tx *bbolt.Tx, userID string) error {
	_, err := deleteRefreshIndexed(tx, bucketOIDCRefreshByUser, userID)
	return err
}

func deleteRefreshIndexed(tx *bbolt.Tx, index []byte, owner string) (int, error) {
	prefix := prefixedKey(owner, nil)
	var hashes [][]byte
	c := tx.Bucket(index).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		hashes = append(hashes, bytes.Clone(k[len(prefix):]))
	}
	n := 0
	for _, h := range hashes {
		t, err := getRefresh(tx, h)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				if err := tx.Bucket(index).Delete(prefixedKey(owner, h)); err != nil {
					return 0, err
				}
				continue
			}
			return 0, err
		}
		if err := deleteRefresh(tx, t); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// prefixedKey returns owner, 0x00, rest.
func prefixedKey(owner string, rest []byte) []byte {
	k := make([]byte, 0, len(owner)+1+len(rest))
	k = append(k, owner...)
	k = append(k, 0)
	return append(k, rest...)
}

// getJSON decodes the value under k into v, or returns store.ErrNotFound.
func getJSON(b *bbolt.Bucket, k []byte, v any) error {
	if len(k) == 0 {
		return store.ErrNotFound
	}
	raw := b.Get(k)
	if raw == nil {
		return store.ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}
