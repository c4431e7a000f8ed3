package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// bucketPush holds approval requests (since version 5): user id, 0x00,
// request id -> JSON store.PushRequest. A user has few (at most one
// pending per relying party), so the user's requests are read by prefix.
var bucketPush = []byte("push_requests")

// createPushBucket is migration 5: approval requests. Nothing existing
// changes.
func createPushBucket(tx *bbolt.Tx) error { return createBucketsNamed(tx, bucketPush) }

// CreatePushRequest inserts r, checking in one transaction that the user
// exists and has no request of the same relying party pending at now, and
// removing the user's
// requests that are no longer pending.
func (d *DB) CreatePushRequest(ctx context.Context, r store.PushRequest, now time.Time) error {
	if err := validUserID(r.UserID); err != nil {
		return fmt.Errorf("create push request: %w", err)
	}
	if r.ID == "" {
		return errors.New("create push request: empty id")
	}
	r.Version = 1
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("create push request %q of user %q: %w", r.ID, r.UserID, err)
	}
	// Batched: concurrent requests share an fsync. fn may run again on
	// its own if another in the batch fails, which its checks survive.
	err = d.batch(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(r.UserID)) == nil {
			return store.ErrNotFound
		}
		b := tx.Bucket(bucketPush)
		old, err := userPushRequests(tx, r.UserID)
		if err != nil {
			return err
		}
		for _, o := range old {
			if (o.PendingAt(now) && o.RPName == r.RPName) || o.ID == r.ID {
				return store.ErrExists
			}
		}
		for _, o := range old {
			if o.PendingAt(now) {
				continue
			}
			if err := b.Delete(userKey(r.UserID, o.ID)); err != nil {
				return err
			}
		}
		return b.Put(userKey(r.UserID, r.ID), v)
	})
	if err != nil {
		return fmt.Errorf("create push request %q of user %q: %w", r.ID, r.UserID, err)
	}
	return nil
}

// GetPushRequest returns one request of the user.
func (d *DB) GetPushRequest(ctx context.Context, userID, id string) (store.PushRequest, error) {
	var r store.PushRequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		r, err = getPushRequest(tx, userID, id)
		return err
	})
	if err != nil {
		return store.PushRequest{}, fmt.Errorf("get push request %q of user %q: %w", id, userID, err)
	}
	return r, nil
}

// ListPushRequests returns the user's requests, oldest first.
func (d *DB) ListPushRequests(ctx context.Context, userID string) ([]store.PushRequest, error) {
	var rs []store.PushRequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		rs, err = userPushRequests(tx, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list push requests of user %q: %w", userID, err)
	}
	return rs, nil
}

// UpdatePushRequest reads, changes and writes one request in a single
// transaction.
func (d *DB) UpdatePushRequest(ctx context.Context, userID, id string, fn func(store.PushRequest) (store.PushRequest, error)) (store.PushRequest, error) {
	var out store.PushRequest
	// Batched: concurrent decisions share an fsync; fn runs again (on its
	// own) if another function in the batch fails, as the contract allows.
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		old, err := getPushRequest(tx, userID, id)
		if err != nil {
			return err
		}
		r, err := fn(old)
		if err != nil {
			return err
		}
		r.ID, r.UserID = old.ID, old.UserID
		r.Version = old.Version + 1
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		out = r
		return tx.Bucket(bucketPush).Put(userKey(userID, id), v)
	})
	if err != nil {
		return store.PushRequest{}, fmt.Errorf("update push request %q of user %q: %w", id, userID, err)
	}
	return out, nil
}

func getPushRequest(tx *bbolt.Tx, userID, id string) (store.PushRequest, error) {
	if userID == "" || id == "" {
		return store.PushRequest{}, store.ErrNotFound
	}
	v := tx.Bucket(bucketPush).Get(userKey(userID, id))
	if v == nil {
		return store.PushRequest{}, store.ErrNotFound
	}
	var r store.PushRequest
	if err := json.Unmarshal(v, &r); err != nil {
		return store.PushRequest{}, fmt.Errorf("decode push request: %w", err)
	}
	return r, nil
}

func userPushRequests(tx *bbolt.Tx, userID string) ([]store.PushRequest, error) {
	prefix := userKey(userID, "")
	var rs []store.PushRequest
	c := tx.Bucket(bucketPush).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var r store.PushRequest
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode push request: %w", err)
		}
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b store.PushRequest) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return rs, nil
}

// deleteUserPush removes every request of the user.
func deleteUserPush(tx *bbolt.Tx, userID string) error {
	_, err := deletePrefix(tx.Bucket(bucketPush), userKey(userID, ""), -1)
	return err
}
