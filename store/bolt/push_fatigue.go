package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// bucketPushFatigue holds the push fatigue defence's state (since version
// 11): user id -> JSON store.PushFatigue. Only users with recent denials or
// a lock have a record; a record that becomes empty is removed.
var bucketPushFatigue = []byte("push_fatigue")

// createPushFatigueBucket is migration 11: the fatigue defence's per-user
// state. Nothing existing changes.
func createPushFatigueBucket(tx *bbolt.Tx) error { return createBucketsNamed(tx, bucketPushFatigue) }

// GetPushFatigue returns the user's fatigue record.
func (d *DB) GetPushFatigue(ctx context.Context, userID string) (store.PushFatigue, error) {
	var f store.PushFatigue
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		f, err = getPushFatigue(tx, userID)
		return err
	})
	if err != nil {
		return store.PushFatigue{}, fmt.Errorf("get push fatigue of user %q: %w", userID, err)
	}
	return f, nil
}

// UpdatePushFatigue reads, changes and writes the user's fatigue record in
// one transaction, batched with concurrent writers so that they share an
// fsync.
func (d *DB) UpdatePushFatigue(ctx context.Context, userID string, fn func(store.PushFatigue) (store.PushFatigue, error)) (store.PushFatigue, error) {
	if err := validUserID(userID); err != nil {
		return store.PushFatigue{}, fmt.Errorf("update push fatigue: %w", err)
	}
	var out store.PushFatigue
	// fn may run again (on its own) if another function in the batch
	// fails; everything is recomputed from tx.
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
			return store.ErrNotFound
		}
		old, err := getPushFatigue(tx, userID)
		if errors.Is(err, store.ErrNotFound) {
			old, err = store.PushFatigue{UserID: userID}, nil
		}
		if err != nil {
			return err
		}
		f, err := fn(old)
		if err != nil {
			return err
		}
		f.UserID = userID
		out = f
		b := tx.Bucket(bucketPushFatigue)
		if f.Empty() {
			return b.Delete([]byte(userID))
		}
		v, err := json.Marshal(f)
		if err != nil {
			return err
		}
		return b.Put([]byte(userID), v)
	})
	if err != nil {
		return store.PushFatigue{}, fmt.Errorf("update push fatigue of user %q: %w", userID, err)
	}
	return out, nil
}

// ListPushLocks returns the records with a lock in force at now.
func (d *DB) ListPushLocks(ctx context.Context, now time.Time) ([]store.PushFatigue, error) {
	var out []store.PushFatigue
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		out = nil
		return tx.Bucket(bucketPushFatigue).ForEach(func(_, v []byte) error {
			var f store.PushFatigue
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode push fatigue: %w", err)
			}
			if f.LockedUntil.After(now) {
				out = append(out, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list push locks: %w", err)
	}
	return out, nil
}

// DeleteExpiredPushFatigue removes the records whose ExpiresAt is before
// now.
func (d *DB) DeleteExpiredPushFatigue(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketPushFatigue)
		// Collect first: deleting under a live cursor skips keys.
		var keys [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var f store.PushFatigue
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode push fatigue: %w", err)
			}
			if f.ExpiresAt.Before(now) {
				keys = append(keys, append([]byte(nil), k...))
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
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired push fatigue: %w", err)
	}
	return n, nil
}

func getPushFatigue(tx *bbolt.Tx, userID string) (store.PushFatigue, error) {
	if userID == "" {
		return store.PushFatigue{}, store.ErrNotFound
	}
	v := tx.Bucket(bucketPushFatigue).Get([]byte(userID))
	if v == nil {
		return store.PushFatigue{}, store.ErrNotFound
	}
	var f store.PushFatigue
	if err := json.Unmarshal(v, &f); err != nil {
		return store.PushFatigue{}, fmt.Errorf("decode push fatigue: %w", err)
	}
	return f, nil
}

// deleteUserPushFatigue removes the user's fatigue record.
func deleteUserPushFatigue(tx *bbolt.Tx, userID string) error {
	return tx.Bucket(bucketPushFatigue).Delete([]byte(userID))
}
