package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// CreateUser inserts u with Version 1. It fails with store.ErrExists if u.ID
// or a non-empty u.EmailIndex is taken. A user with an empty EmailIndex is
// not indexed by e-mail.
func (d *DB) CreateUser(ctx context.Context, u store.User) error {
	if err := validUserID(u.ID); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	u.Version = 1
	v, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.ID, err)
	}
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(u.ID)) != nil {
			return store.ErrExists
		}
		if len(u.EmailIndex) > 0 {
			byEmail := tx.Bucket(bucketUsersByEmail)
			if byEmail.Get(u.EmailIndex) != nil {
				return store.ErrExists
			}
			if err := byEmail.Put(u.EmailIndex, []byte(u.ID)); err != nil {
				return err
			}
		}
		return users.Put([]byte(u.ID), v)
	})
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.ID, err)
	}
	return nil
}

// GetUser returns the user with the given id, or store.ErrNotFound.
func (d *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	var u store.User
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		u, err = getUser(tx, id)
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", id, err)
	}
	return u, nil
}

// GetUserByEmailIndex returns the user whose EmailIndex equals idx, or
// store.ErrNotFound. An empty idx matches no one.
func (d *DB) GetUserByEmailIndex(ctx context.Context, idx []byte) (store.User, error) {
	var u store.User
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if len(idx) == 0 {
			return store.ErrNotFound
		}
		id := tx.Bucket(bucketUsersByEmail).Get(idx)
		if id == nil {
			return store.ErrNotFound
		}
		var err error
		u, err = getUser(tx, string(id))
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("get user by e-mail index: %w", err)
	}
	return u, nil
}

// ListUsers returns up to limit users with ID greater than after, in
// ascending ID order, from one consistent snapshot. A limit of zero or less
// means 100; more than 1000 means 1000.
func (d *DB) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	limit = clampLimit(limit)
	var users []store.User
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketUsers).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(users) < limit; k, v = c.Next() {
			var u store.User
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode user %q: %w", k, err)
			}
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UpdateUser reads the user, applies fn and writes the result with Version
// increased by one, all in one write transaction, so no concurrent update is
// lost. fn runs exactly once per call, while the store's single writer lock
// is held: it must be quick and must not call the store. If fn returns an
// error nothing is written and the error is returned wrapped.
//
// It fails with store.ErrNotFound if there is no such user (fn is not
// called), store.ErrExists if fn sets an EmailIndex another user holds, and
// an error if fn changes the ID. The stored Version is set by the store
// whatever fn returns; UpdatedAt is the caller's to set.
func (d *DB) UpdateUser(ctx context.Context, id string, fn func(store.User) (store.User, error)) (store.User, error) {
	var out store.User
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getUser(tx, id)
		if err != nil {
			return err
		}
		// fn gets its own copy of the index, so that changing it in place
		// still shows up as a change.
		in := old
		in.EmailIndex = bytes.Clone(old.EmailIndex)
		u, err := fn(in)
		if err != nil {
			return err
		}
		if u.ID != id {
			return fmt.Errorf("changing the id to %q is not allowed", u.ID)
		}
		out, err = putUpdated(tx, old, u)
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q: %w", id, err)
	}
	return out, nil
}

// CompareAndSwapUser writes u only if the stored user's Version equals
// u.Version, and fails with store.ErrConflict otherwise; store.ErrNotFound
// if there is no user u.ID. Like UpdateUser it moves the e-mail index entry,
// failing with store.ErrExists if another user holds u.EmailIndex. It
// returns the stored result with Version increased by one.
func (d *DB) CompareAndSwapUser(ctx context.Context, u store.User) (store.User, error) {
	var out store.User
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getUser(tx, u.ID)
		if err != nil {
			return err
		}
		if old.Version != u.Version {
			return store.ErrConflict
		}
		out, err = putUpdated(tx, old, u)
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("compare and swap user %q: %w", u.ID, err)
	}
	return out, nil
}

// DeleteUser removes, in one transaction, the user, its e-mail index entry,
// its sessions, its factors with their lookup entries, and all its history
// (sign-ins, payments, devices, payees, last report), its OpenID Connect
// refresh tokens, its push requests and fatigue record, its consent records and its links to upstream accounts;
// store.ErrNotFound if there is no such user.
func (d *DB) DeleteUser(ctx context.Context, id string) error {
	err := d.update(ctx, func(tx *bbolt.Tx) error { return deleteUserTx(tx, id) })
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	return nil
}

// deleteUserTx is DeleteUser inside tx; EraseUser shares it.
func deleteUserTx(tx *bbolt.Tx, id string) error {
	u, err := getUser(tx, id)
	if err != nil {
		return err
	}
	if len(u.EmailIndex) > 0 {
		byEmail := tx.Bucket(bucketUsersByEmail)
		// Only drop the entry if it is this user's.
		if string(byEmail.Get(u.EmailIndex)) == id {
			if err := byEmail.Delete(u.EmailIndex); err != nil {
				return err
			}
		}
	}
	if _, err := deleteUserSessions(tx, id); err != nil {
		return err
	}
	if err := deleteUserFactors(tx, id); err != nil {
		return err
	}
	if err := deleteUserHistory(tx, id); err != nil {
		return err
	}
	if err := deleteUserRefreshTokens(tx, id); err != nil {
		return err
	}
	if err := deleteUserPush(tx, id); err != nil {
		return err
	}
	if err := deleteUserPushFatigue(tx, id); err != nil {
		return err
	}
	if err := deleteUserConsents(tx, id); err != nil {
		return err
	}
	if err := deleteUserLinks(tx, id); err != nil {
		return err
	}
	if err := deleteUserOIDCConsents(tx, id); err != nil {
		return err
	}
	return tx.Bucket(bucketUsers).Delete([]byte(id))
}

// getUser decodes the user with the given id inside tx.
func getUser(tx *bbolt.Tx, id string) (store.User, error) {
	v := tx.Bucket(bucketUsers).Get([]byte(id))
	if v == nil {
		return store.User{}, store.ErrNotFound
	}
	var u store.User
	if err := json.Unmarshal(v, &u); err != nil {
		return store.User{}, fmt.Errorf("decode user: %w", err)
	}
	return u, nil
}

// putUpdated writes u over old, moving the e-mail index entry if it changed,
// and returns u as stored.
func putUpdated(tx *bbolt.Tx, old, u store.User) (store.User, error) {
	if !bytes.Equal(old.EmailIndex, u.EmailIndex) {
		byEmail := tx.Bucket(bucketUsersByEmail)
		if len(u.EmailIndex) > 0 {
			if holder := byEmail.Get(u.EmailIndex); holder != nil && string(holder) != u.ID {
				return store.User{}, store.ErrExists
			}
			if err := byEmail.Put(u.EmailIndex, []byte(u.ID)); err != nil {
				return store.User{}, err
			}
		}
		if len(old.EmailIndex) > 0 && string(byEmail.Get(old.EmailIndex)) == u.ID {
			if err := byEmail.Delete(old.EmailIndex); err != nil {
				return store.User{}, err
			}
		}
	}
	u.Version = old.Version + 1
	v, err := json.Marshal(u)
	if err != nil {
		return store.User{}, err
	}
	if err := tx.Bucket(bucketUsers).Put([]byte(u.ID), v); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// validUserID rejects ids that cannot be keys: empty ones, and ones holding
// the 0x00 byte that separates the user id from what follows it in the keys
// of sessions_by_user, factors and the history buckets.
func validUserID(id string) error {
	if id == "" {
		return errors.New("empty user id")
	}
	if strings.IndexByte(id, 0) >= 0 {
		return errors.New("user id contains a NUL byte")
	}
	return nil
}
