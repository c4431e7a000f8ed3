package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// outbox: mail id -> JSON store.Mail. Since version 3.
var bucketOutbox = []byte("outbox")

// createOutboxBucket is migration 3: the mail outbox.
func createOutboxBucket(tx *bbolt.Tx) error { return createBucketsNamed(tx, bucketOutbox) }

// maxMailID bounds a mail id, which is a bbolt key.
const maxMailID = 128

func validMailID(id string) error {
	if id == "" || len(id) > maxMailID {
		return errors.New("mail id must be 1 to 128 bytes")
	}
	return nil
}

// EnqueueMail inserts m; store.ErrExists if its id is taken.
func (d *DB) EnqueueMail(ctx context.Context, m store.Mail) error {
	if err := validMailID(m.ID); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	v, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("enqueue mail %q: %w", m.ID, err)
	}
	err = d.batch(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b.Get([]byte(m.ID)) != nil {
			return store.ErrExists
		}
		return b.Put([]byte(m.ID), v)
	})
	if err != nil {
		return fmt.Errorf("enqueue mail %q: %w", m.ID, err)
	}
	return nil
}

// ClaimMail leases up to limit due messages, oldest id first. The outbox is
// expected to stay small (messages leave it once sent), so it is scanned in
// full, read-only: a pass that finds nothing due (the last of every
// delivery pass) commits nothing, and the write leases only what the scan
// found, each checked again, so another pass's lease meanwhile stands.
func (d *DB) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Mail, error) {
	if limit <= 0 {
		limit = 100
	}
	var due [][]byte
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(due) < limit; k, v = c.Next() {
			var m store.Mail
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode mail %q: %w", k, err)
			}
			if !m.NextAttempt.After(now) {
				due = append(due, bytes.Clone(k))
			}
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	var out []store.Mail
	err = d.batch(ctx, func(tx *bbolt.Tx) error {
		out = out[:0]
		b := tx.Bucket(bucketOutbox)
		for _, k := range due {
			v := b.Get(k)
			if v == nil {
				continue // sent meanwhile
			}
			var m store.Mail
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode mail %q: %w", k, err)
			}
			if m.NextAttempt.After(now) {
				continue // leased meanwhile
			}
			m.NextAttempt = now.Add(lease).UTC()
			m.Attempts++
			nv, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := b.Put(k, nv); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	return out, nil
}

// MarkMailSent removes the message; store.ErrNotFound if it is gone.
func (d *DB) MarkMailSent(ctx context.Context, id string) error {
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b.Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("mark mail %q sent: %w", id, err)
	}
	return nil
}

// RetryMail records a failed attempt and when to try again.
func (d *DB) RetryMail(ctx context.Context, id string, next time.Time, lastError string) error {
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		v := b.Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		var m store.Mail
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode mail: %w", err)
		}
		m.NextAttempt = next.UTC()
		m.LastError = lastError
		nv, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), nv)
	})
	if err != nil {
		return fmt.Errorf("retry mail %q: %w", id, err)
	}
	return nil
}

// ListMail returns up to limit messages after the given id, in id order.
func (d *DB) ListMail(ctx context.Context, after string, limit int) ([]store.Mail, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []store.Mail
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var m store.Mail
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode mail %q: %w", k, err)
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return out, nil
}
