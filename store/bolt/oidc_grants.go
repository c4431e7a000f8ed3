package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// Since version 7: consents to clients and used client assertions.
var (
	// oidc_consents: user id, 0x00, client id -> JSON store.OIDCConsent.
	bucketOIDCConsents = []byte("oidc_consents")
	// oidc_assertions: assertion id -> big-endian Unix seconds of expiry.
	bucketOIDCAssertions = []byte("oidc_assertions")
)

// createOIDCGrantBuckets is migration 7: consents and used client
// assertions. Nothing existing changes.
func createOIDCGrantBuckets(tx *bbolt.Tx) error {
	return createBucketsNamed(tx, bucketOIDCConsents, bucketOIDCAssertions)
}

// UpdateOIDCClient applies fn to the stored client in one transaction.
func (d *DB) UpdateOIDCClient(ctx context.Context, id string, fn func(store.OIDCClient) (store.OIDCClient, error)) (store.OIDCClient, error) {
	var out store.OIDCClient
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCClients)
		var old store.OIDCClient
		if err := getJSON(b, []byte(id), &old); err != nil {
			return err
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		c.ID = old.ID
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		out = c
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return store.OIDCClient{}, fmt.Errorf("update client %q: %w", id, err)
	}
	return out, nil
}

func validConsentKey(userID, clientID string) error {
	if err := validUserID(userID); err != nil {
		return err
	}
	if clientID == "" {
		return errors.New("empty client id")
	}
	return nil
}

// PutOIDCConsent inserts or replaces the consent.
func (d *DB) PutOIDCConsent(ctx context.Context, c store.OIDCConsent) error {
	if err := validConsentKey(c.UserID, c.ClientID); err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(c.UserID)) == nil {
			return store.ErrNotFound
		}
		return tx.Bucket(bucketOIDCConsents).Put(prefixedKey(c.UserID, []byte(c.ClientID)), v)
	})
	if err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	return nil
}

// GetOIDCConsent returns the consent, or store.ErrNotFound.
func (d *DB) GetOIDCConsent(ctx context.Context, userID, clientID string) (store.OIDCConsent, error) {
	var c store.OIDCConsent
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if validConsentKey(userID, clientID) != nil {
			return store.ErrNotFound
		}
		return getJSON(tx.Bucket(bucketOIDCConsents), prefixedKey(userID, []byte(clientID)), &c)
	})
	if err != nil {
		return store.OIDCConsent{}, fmt.Errorf("get consent: %w", err)
	}
	return c, nil
}

// ListOIDCConsents returns the user's consents ordered by client id.
func (d *DB) ListOIDCConsents(ctx context.Context, userID string) ([]store.OIDCConsent, error) {
	var out []store.OIDCConsent
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		out = nil
		if validUserID(userID) != nil {
			return nil
		}
		prefix := prefixedKey(userID, nil)
		c := tx.Bucket(bucketOIDCConsents).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var cs store.OIDCConsent
			if err := json.Unmarshal(v, &cs); err != nil {
				return fmt.Errorf("decode consent: %w", err)
			}
			out = append(out, cs)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	return out, nil
}

// DeleteOIDCConsent removes the consent; store.ErrNotFound if absent.
func (d *DB) DeleteOIDCConsent(ctx context.Context, userID, clientID string) error {
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if validConsentKey(userID, clientID) != nil {
			return store.ErrNotFound
		}
		b := tx.Bucket(bucketOIDCConsents)
		k := prefixedKey(userID, []byte(clientID))
		if b.Get(k) == nil {
			return store.ErrNotFound
		}
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("delete consent: %w", err)
	}
	return nil
}

// deleteUserOIDCConsents removes every OIDC consent of the user inside tx;
// DeleteUser calls it.
func deleteUserOIDCConsents(tx *bbolt.Tx, userID string) error {
	prefix := prefixedKey(userID, nil)
	b := tx.Bucket(bucketOIDCConsents)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteClientConsents removes every user's consent to the client inside
// tx, so a client registered later under the same id starts without any;
// DeleteOIDCClient calls it. It reads every consent.
func deleteClientConsents(tx *bbolt.Tx, clientID string) error {
	b := tx.Bucket(bucketOIDCConsents)
	var keys [][]byte
	err := b.ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 && string(k[i+1:]) == clientID {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUserClientOIDCRefreshTokens removes the client's refresh tokens
// for the user, found through the user's index.
func (d *DB) DeleteUserClientOIDCRefreshTokens(ctx context.Context, userID, clientID string) (int, error) {
	n, err := d.deleteUserRefreshWhere(ctx, userID, func(t store.OIDCRefreshToken) bool { return t.ClientID == clientID })
	if err != nil {
		return 0, fmt.Errorf("delete refresh tokens of user and client: %w", err)
	}
	return n, nil
}

// DeleteSessionOIDCRefreshTokens removes the refresh tokens a browser
// session authorized, found through the user's index.
func (d *DB) DeleteSessionOIDCRefreshTokens(ctx context.Context, userID string, session []byte) (int, error) {
	if len(session) == 0 {
		return 0, nil
	}
	n, err := d.deleteUserRefreshWhere(ctx, userID, func(t store.OIDCRefreshToken) bool { return bytes.Equal(t.Session, session) })
	if err != nil {
		return 0, fmt.Errorf("delete refresh tokens of session: %w", err)
	}
	return n, nil
}

// deleteUserRefreshWhere removes the user's refresh tokens that match.
func (d *DB) deleteUserRefreshWhere(ctx context.Context, userID string, match func(store.OIDCRefreshToken) bool) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		prefix := prefixedKey(userID, nil)
		var doomed []store.OIDCRefreshToken
		c := tx.Bucket(bucketOIDCRefreshByUser).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			t, err := getRefresh(tx, k[len(prefix):])
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if match(t) {
				doomed = append(doomed, t)
			}
		}
		for _, t := range doomed {
			if err := deleteRefresh(tx, t); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// UseOIDCAssertion records the assertion id until expiresAt.
func (d *DB) UseOIDCAssertion(ctx context.Context, id []byte, expiresAt, now time.Time) error {
	if len(id) == 0 {
		return errors.New("use assertion: empty id")
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(expiresAt.Unix()))
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOIDCAssertions)
		if old := b.Get(id); len(old) == 8 && int64(binary.BigEndian.Uint64(old)) >= now.Unix() {
			return store.ErrExists
		}
		return b.Put(id, v[:])
	})
	if err != nil {
		return fmt.Errorf("use assertion: %w", err)
	}
	return nil
}

// DeleteExpiredOIDCAssertions forgets expired assertion ids. It reads
// every recorded id.
func (d *DB) DeleteExpiredOIDCAssertions(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketOIDCAssertions)
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < now.Unix() {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired assertions: %w", err)
	}
	return n, nil
}
