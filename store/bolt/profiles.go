package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// bucketConsents holds consent records (since version 6): user id, 0x00,
// big-endian sequence number -> JSON store.ConsentRecord. The sequence is
// the bucket's own, so records are never overwritten and a user's sort in
// the order they were made.
var bucketConsents = []byte("consents")

// createConsentsBucket is migration 6. Nothing existing changes.
func createConsentsBucket(tx *bbolt.Tx) error { return createBucketsNamed(tx, bucketConsents) }

// AppendConsent appends c under the next sequence number, checking in the
// same transaction that the user exists.
func (d *DB) AppendConsent(ctx context.Context, c store.ConsentRecord) (uint64, error) {
	if err := validUserID(c.UserID); err != nil {
		return 0, fmt.Errorf("append consent: %w", err)
	}
	var seq uint64
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(c.UserID)) == nil {
			return store.ErrNotFound
		}
		b := tx.Bucket(bucketConsents)
		var err error
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		c.Seq = seq
		c.Time = c.Time.UTC()
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put(consentKey(c.UserID, seq), v)
	})
	if err != nil {
		return 0, fmt.Errorf("append consent for user %q: %w", c.UserID, err)
	}
	return seq, nil
}

// ListConsents returns the user's consent records, oldest first.
func (d *DB) ListConsents(ctx context.Context, userID string) ([]store.ConsentRecord, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	var out []store.ConsentRecord
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		prefix := userKey(userID, "")
		c := tx.Bucket(bucketConsents).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r store.ConsentRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode consent record: %w", err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list consents of user %q: %w", userID, err)
	}
	return out, nil
}

// ListUserSessions returns the user's sessions through the per-user index.
func (d *DB) ListUserSessions(ctx context.Context, userID string) ([]store.Session, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var out []store.Session
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		prefix := userSessionKey(userID, nil)
		c := tx.Bucket(bucketSessionsByUser).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			idHash := k[len(prefix):]
			v := tx.Bucket(bucketSessions).Get(idHash)
			if v == nil {
				continue
			}
			s, err := decodeSession(bytes.Clone(idHash), v)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	return out, nil
}

// ListUserOIDCRefreshTokens returns the user's refresh tokens through the
// per-user index.
func (d *DB) ListUserOIDCRefreshTokens(ctx context.Context, userID string) ([]store.OIDCRefreshToken, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list refresh tokens: %w", err)
	}
	var out []store.OIDCRefreshToken
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		prefix := prefixedKey(userID, nil)
		c := tx.Bucket(bucketOIDCRefreshByUser).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			t, err := getRefresh(tx, k[len(prefix):])
			if err == store.ErrNotFound {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refresh tokens of user %q: %w", userID, err)
	}
	return out, nil
}

// ListKnownDevices returns the user's known browsers in id order.
func (d *DB) ListKnownDevices(ctx context.Context, userID string) ([]store.KnownDevice, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list known devices: %w", err)
	}
	var out []store.KnownDevice
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		prefix := userKey(userID, "")
		c := tx.Bucket(bucketDevices).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			t, err := decodeTime(v)
			if err != nil {
				return err
			}
			out = append(out, store.KnownDevice{ID: string(k[len(prefix):]), FirstSeen: t})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list known devices of user %q: %w", userID, err)
	}
	return out, nil
}

// EraseUser deletes the user as DeleteUser does and pseudonymises the
// audit events about them, all in one transaction.
func (d *DB) EraseUser(ctx context.Context, id, pseudonym string) (store.ErasureReport, error) {
	var rep store.ErasureReport
	if err := validUserID(id); err != nil {
		return rep, fmt.Errorf("erase user: %w", err)
	}
	if pseudonym == "" || pseudonym == id {
		return rep, fmt.Errorf("erase user %q: pseudonym must differ from the id", id)
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		rep = store.ErasureReport{}
		if err := deleteUserTx(tx, id); err != nil {
			return err
		}
		n, err := pseudonymiseAudit(tx, id, pseudonym)
		rep.AuditEvents = n
		if err != nil {
			return err
		}
		return eraseUserWebhooks(tx, id, pseudonym)
	})
	if err != nil {
		return store.ErasureReport{}, fmt.Errorf("erase user %q: %w", id, err)
	}
	return rep, nil
}

// pseudonymiseAudit rewrites every audit event about id inside tx.
func pseudonymiseAudit(tx *bbolt.Tx, id, pseudonym string) (int, error) {
	b := tx.Bucket(bucketAudit)
	type rewrite struct{ k, v []byte }
	var rewrites []rewrite
	idBytes := []byte(id)
	err := b.ForEach(func(k, v []byte) error {
		// Cheap filter first: most events are about someone else.
		if !bytes.Contains(v, idBytes) {
			return nil
		}
		var e store.AuditEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode audit event %d: %w", binary.BigEndian.Uint64(k), err)
		}
		hit := false
		if e.Actor == id {
			e.Actor, hit = pseudonym, true
		}
		if e.Subject == id {
			e.Subject, hit = pseudonym, true
		}
		for dk, dv := range e.Details {
			if dv == id {
				e.Details[dk], hit = pseudonym, true
			}
		}
		if !hit {
			return nil
		}
		e.IP, e.UserAgent = "", ""
		nv, err := json.Marshal(e)
		if err != nil {
			return err
		}
		rewrites = append(rewrites, rewrite{bytes.Clone(k), nv})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range rewrites {
		if err := b.Put(r.k, r.v); err != nil {
			return 0, err
		}
	}
	return len(rewrites), nil
}

// deleteUserConsents removes the user's consent records inside tx.
func deleteUserConsents(tx *bbolt.Tx, userID string) error {
	_, err := deletePrefix(tx.Bucket(bucketConsents), userKey(userID, ""), -1)
	return err
}

func consentKey(userID string, seq uint64) []byte {
	k := userKey(userID, "")
	return binary.BigEndian.AppendUint64(k, seq)
}

// Federated links (since version 9). links: Key -> JSON
// store.FederatedLink; links_by_user: user id, 0x00, Key -> empty.
var (
	bucketLinks       = []byte("links")
	bucketLinksByUser = []byte("links_by_user")
)

// createLinkBuckets is migration 9. Nothing existing changes.
func createLinkBuckets(tx *bbolt.Tx) error {
	return createBucketsNamed(tx, bucketLinks, bucketLinksByUser)
}

// CreateFederatedLink inserts l and its per-user index entry, checking in
// the same transaction that the key is free and the user exists.
func (d *DB) CreateFederatedLink(ctx context.Context, l store.FederatedLink) error {
	if err := validUserID(l.UserID); err != nil {
		return fmt.Errorf("create link: %w", err)
	}
	if len(l.Key) == 0 {
		return fmt.Errorf("create link: empty key")
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(l.UserID)) == nil {
			return store.ErrNotFound
		}
		b := tx.Bucket(bucketLinks)
		if b.Get(l.Key) != nil {
			return store.ErrExists
		}
		l.CreatedAt = l.CreatedAt.UTC()
		v, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if err := b.Put(l.Key, v); err != nil {
			return err
		}
		return tx.Bucket(bucketLinksByUser).Put(prefixedKey(l.UserID, l.Key), nil)
	})
	if err != nil {
		return fmt.Errorf("create link for user %q: %w", l.UserID, err)
	}
	return nil
}

// GetFederatedLink returns the link with that key.
func (d *DB) GetFederatedLink(ctx context.Context, key []byte) (store.FederatedLink, error) {
	var l store.FederatedLink
	err := d.view(ctx, func(tx *bbolt.Tx) error { return getJSON(tx.Bucket(bucketLinks), key, &l) })
	if err != nil {
		return store.FederatedLink{}, fmt.Errorf("get link: %w", err)
	}
	return l, nil
}

// ListFederatedLinks returns the user's links in key order.
func (d *DB) ListFederatedLinks(ctx context.Context, userID string) ([]store.FederatedLink, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []store.FederatedLink
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		prefix := prefixedKey(userID, nil)
		c := tx.Bucket(bucketLinksByUser).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			var l store.FederatedLink
			err := getJSON(tx.Bucket(bucketLinks), k[len(prefix):], &l)
			if err == store.ErrNotFound {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list links of user %q: %w", userID, err)
	}
	return out, nil
}

// deleteUserLinks removes the user's links and their index entries.
func deleteUserLinks(tx *bbolt.Tx, userID string) error {
	prefix := prefixedKey(userID, nil)
	var keys [][]byte
	c := tx.Bucket(bucketLinksByUser).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := tx.Bucket(bucketLinks).Delete(k[len(prefix):]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketLinksByUser).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteFederatedLink removes one of the user's links and its index entry.
func (d *DB) DeleteFederatedLink(ctx context.Context, userID string, key []byte, keepLast bool) (store.FederatedLink, error) {
	if err := validUserID(userID); err != nil {
		return store.FederatedLink{}, fmt.Errorf("delete link: %w", err)
	}
	var l store.FederatedLink
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		idx := tx.Bucket(bucketLinksByUser)
		ik := prefixedKey(userID, key)
		if len(key) == 0 || idx.Get(ik) == nil {
			return store.ErrNotFound
		}
		if err := getJSON(tx.Bucket(bucketLinks), key, &l); err != nil {
			return err
		}
		if keepLast {
			prefix := prefixedKey(userID, nil)
			n := 0
			c := idx.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < 2; k, _ = c.Next() {
				n++
			}
			if n < 2 {
				return store.ErrConflict
			}
		}
		if err := tx.Bucket(bucketLinks).Delete(key); err != nil {
			return err
		}
		return idx.Delete(ik)
	})
	if err != nil {
		return store.FederatedLink{}, fmt.Errorf("delete link of user %q: %w", userID, err)
	}
	return l, nil
}
