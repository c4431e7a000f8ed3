package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// CreateFactor inserts f with Version 1. It fails with store.ErrNotFound if
// the user does not exist, and with store.ErrExists if the user already has
// a factor with f.ID or a non-empty f.LookupKey is taken; all checked in the
// one transaction that writes f. A factor with an empty LookupKey is not
// indexed.
func (d *DB) CreateFactor(ctx context.Context, f store.Factor) error {
	if err := validUserID(f.UserID); err != nil {
		return fmt.Errorf("create factor: %w", err)
	}
	if f.ID == "" {
		return errors.New("create factor: empty factor id")
	}
	f.Version = 1
	v, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("create factor %q of user %q: %w", f.ID, f.UserID, err)
	}
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(f.UserID)) == nil {
			return store.ErrNotFound
		}
		factors := tx.Bucket(bucketFactors)
		key := userKey(f.UserID, f.ID)
		if factors.Get(key) != nil {
			return store.ErrExists
		}
		if len(f.LookupKey) > 0 {
			lookup := tx.Bucket(bucketFactorLookup)
			if lookup.Get(f.LookupKey) != nil {
				return store.ErrExists
			}
			if err := lookup.Put(bytes.Clone(f.LookupKey), key); err != nil {
				return err
			}
		}
		return factors.Put(key, v)
	})
	if err != nil {
		return fmt.Errorf("create factor %q of user %q: %w", f.ID, f.UserID, err)
	}
	return nil
}

// GetFactor returns the user's factor with the given id, or
// store.ErrNotFound. Times come back in UTC.
func (d *DB) GetFactor(ctx context.Context, userID, id string) (store.Factor, error) {
	if err := validUserID(userID); err != nil {
		return store.Factor{}, fmt.Errorf("get factor: %w", err)
	}
	var f store.Factor
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		f, err = getFactor(tx.Bucket(bucketFactors), userKey(userID, id))
		return err
	})
	if err != nil {
		return store.Factor{}, fmt.Errorf("get factor %q of user %q: %w", id, userID, err)
	}
	return f, nil
}

// GetFactorByLookupKey returns the factor whose LookupKey equals key, or
// store.ErrNotFound. An empty key matches nothing.
func (d *DB) GetFactorByLookupKey(ctx context.Context, key []byte) (store.Factor, error) {
	var f store.Factor
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if len(key) == 0 {
			return store.ErrNotFound
		}
		fkey := tx.Bucket(bucketFactorLookup).Get(key)
		if fkey == nil {
			return store.ErrNotFound
		}
		var err error
		f, err = getFactor(tx.Bucket(bucketFactors), fkey)
		if errors.Is(err, store.ErrNotFound) {
			// The index and the factors are written together; a dangling
			// entry is damage, not absence.
			return fmt.Errorf("lookup entry names missing factor %q", fkey)
		}
		return err
	})
	if err != nil {
		return store.Factor{}, fmt.Errorf("get factor by lookup key: %w", err)
	}
	return f, nil
}

// ListFactors returns the user's factors ordered by CreatedAt, then ID,
// from one consistent snapshot; none for an unknown user.
func (d *DB) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list factors: %w", err)
	}
	var out []store.Factor
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		prefix := userKey(userID, "")
		c := tx.Bucket(bucketFactors).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var f store.Factor
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode factor %q: %w", k, err)
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list factors of user %q: %w", userID, err)
	}
	slices.SortFunc(out, func(a, b store.Factor) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// UpdateFactor reads the factor, applies fn and writes the result with
// Version increased by one, all in one write transaction, so no concurrent
// update is lost and a single-use value is consumed by one caller only. fn
// runs exactly once per call, while the store's single writer lock is held:
// it must be quick and must not call the store. If fn returns an error
// nothing is written and the error is returned wrapped.
//
// It fails with store.ErrNotFound if there is no such factor (fn is not
// called), and with an error, writing nothing, if fn changes ID, UserID,
// Kind or LookupKey. The stored Version is set by the store whatever fn
// returns.
func (d *DB) UpdateFactor(ctx context.Context, userID, id string, fn func(store.Factor) (store.Factor, error)) (store.Factor, error) {
	if err := validUserID(userID); err != nil {
		return store.Factor{}, fmt.Errorf("update factor: %w", err)
	}
	var out store.Factor
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		factors := tx.Bucket(bucketFactors)
		key := userKey(userID, id)
		old, err := getFactor(factors, key)
		if err != nil {
			return err
		}
		// fn gets its own copy of the lookup key, so that changing it in
		// place still shows up as a change.
		in := old
		in.LookupKey = bytes.Clone(old.LookupKey)
		f, err := fn(in)
		if err != nil {
			return err
		}
		switch {
		case f.ID != old.ID:
			return fmt.Errorf("changing the id to %q is not allowed", f.ID)
		case f.UserID != old.UserID:
			return fmt.Errorf("changing the user id to %q is not allowed", f.UserID)
		case f.Kind != old.Kind:
			return fmt.Errorf("changing the kind from %q to %q is not allowed", old.Kind, f.Kind)
		case !bytes.Equal(f.LookupKey, old.LookupKey):
			return errors.New("changing the lookup key is not allowed")
		}
		f.Version = old.Version + 1
		v, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := factors.Put(key, v); err != nil {
			return err
		}
		out = f
		return nil
	})
	if err != nil {
		return store.Factor{}, fmt.Errorf("update factor %q of user %q: %w", id, userID, err)
	}
	return out, nil
}

// DeleteFactor removes one factor and its lookup entry; store.ErrNotFound if
// absent.
func (d *DB) DeleteFactor(ctx context.Context, userID, id string) error {
	if err := validUserID(userID); err != nil {
		return fmt.Errorf("delete factor: %w", err)
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		factors := tx.Bucket(bucketFactors)
		key := userKey(userID, id)
		v := factors.Get(key)
		if v == nil {
			return store.ErrNotFound
		}
		if err := deleteLookup(tx.Bucket(bucketFactorLookup), key, v); err != nil {
			return err
		}
		return factors.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("delete factor %q of user %q: %w", id, userID, err)
	}
	return nil
}

// deleteUserFactors removes the user's factors and their lookup entries
// inside tx.
func deleteUserFactors(tx *bbolt.Tx, userID string) error {
	factors := tx.Bucket(bucketFactors)
	lookup := tx.Bucket(bucketFactorLookup)
	prefix := userKey(userID, "")
	// Collect first: deleting under a live cursor skips keys.
	var keys [][]byte
	c := factors.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := deleteLookup(lookup, k, v); err != nil {
			return err
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := factors.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteLookup removes the lookup entry of the factor stored at key with
// value v, if the entry names that factor.
func deleteLookup(lookup *bbolt.Bucket, key, v []byte) error {
	var f struct {
		LookupKey []byte `json:"lookup_key"`
	}
	if err := json.Unmarshal(v, &f); err != nil {
		return fmt.Errorf("decode factor %q: %w", key, err)
	}
	if len(f.LookupKey) == 0 || !bytes.Equal(lookup.Get(f.LookupKey), key) {
		return nil
	}
	return lookup.Delete(f.LookupKey)
}

// getFactor decodes the factor stored at key in b.
func getFactor(b *bbolt.Bucket, key []byte) (store.Factor, error) {
	v := b.Get(key)
	if v == nil {
		return store.Factor{}, store.ErrNotFound
	}
	var f store.Factor
	if err := json.Unmarshal(v, &f); err != nil {
		return store.Factor{}, fmt.Errorf("decode factor: %w", err)
	}
	return f, nil
}
