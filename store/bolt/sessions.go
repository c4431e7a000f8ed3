package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// CreateSession inserts s; store.ErrExists if its IDHash is taken,
// store.ErrNotFound if s.UserID names no user. Both are checked in the
// transaction that writes s, so a session never outlives its user.
func (d *DB) CreateSession(ctx context.Context, s store.Session) error {
	if len(s.IDHash) == 0 {
		return errors.New("create session: empty id hash")
	}
	if err := validUserID(s.UserID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	v := encodeSession(s)
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(s.UserID)) == nil {
			return store.ErrNotFound
		}
		sessions := tx.Bucket(bucketSessions)
		if sessions.Get(s.IDHash) != nil {
			return store.ErrExists
		}
		if err := sessions.Put(s.IDHash, v); err != nil {
			return err
		}
		return tx.Bucket(bucketSessionsByUser).Put(userSessionKey(s.UserID, s.IDHash), nil)
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// GetSession returns the session with the given id hash, or
// store.ErrNotFound. Expired sessions are returned as they are. Times come
// back in UTC.
func (d *DB) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	var s store.Session
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if len(idHash) == 0 {
			return store.ErrNotFound
		}
		v := tx.Bucket(bucketSessions).Get(idHash)
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		s, err = decodeSession(idHash, v)
		return err
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// TouchSession moves the session's LastSeen forward to at; store.ErrNotFound
// if absent. Batched: concurrent touches share an fsync.
func (d *DB) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		if len(idHash) == 0 {
			return store.ErrNotFound
		}
		sessions := tx.Bucket(bucketSessions)
		v := sessions.Get(idHash)
		if v == nil {
			return store.ErrNotFound
		}
		s, err := decodeSession(idHash, v)
		if err != nil {
			return err
		}
		if !at.After(s.LastSeen) {
			return nil
		}
		s.LastSeen = at.UTC()
		return sessions.Put(idHash, encodeSession(s))
	})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes one session; store.ErrNotFound if absent.
func (d *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if len(idHash) == 0 {
			return store.ErrNotFound
		}
		sessions := tx.Bucket(bucketSessions)
		v := sessions.Get(idHash)
		if v == nil {
			return store.ErrNotFound
		}
		s, err := decodeSession(idHash, v)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSessionsByUser).Delete(userSessionKey(s.UserID, idHash)); err != nil {
			return err
		}
		return sessions.Delete(idHash)
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of the user in one transaction
// and reports how many were removed.
func (d *DB) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	if err := validUserID(userID); err != nil {
		return 0, fmt.Errorf("delete sessions of user: %w", err)
	}
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = deleteUserSessions(tx, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// DeleteExpiredSessions removes the sessions whose ExpiresAt is before now,
// and reports how many were removed. It reads every session, in a read
// transaction, so that the scan neither holds the writer (which every
// sign-in and session touch waits for) nor commits when nothing expired;
// the expired ones are then removed in one write transaction that checks
// each again, so a session changed meanwhile is judged by its new state.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var expired [][]byte
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			s, err := decodeSession(k, v)
			if err != nil {
				return err
			}
			if s.ExpiresAt.Before(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		if err != nil {
			return 0, fmt.Errorf("delete expired sessions: %w", err)
		}
		return 0, nil
	}
	var n int
	err = d.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		sessions := tx.Bucket(bucketSessions)
		byUser := tx.Bucket(bucketSessionsByUser)
		for _, idHash := range expired {
			v := sessions.Get(idHash)
			if v == nil {
				continue // gone meanwhile
			}
			s, err := decodeSession(idHash, v)
			if err != nil {
				return err
			}
			if !s.ExpiresAt.Before(now) {
				continue
			}
			if err := sessions.Delete(idHash); err != nil {
				return err
			}
			if err := byUser.Delete(userSessionKey(s.UserID, idHash)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// deleteUserSessions removes the sessions of userID inside tx.
func deleteUserSessions(tx *bbolt.Tx, userID string) (int, error) {
	sessions := tx.Bucket(bucketSessions)
	byUser := tx.Bucket(bucketSessionsByUser)
	prefix := userSessionKey(userID, nil)
	// Collect first: deleting under a live cursor skips keys.
	var keys [][]byte
	c := byUser.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	n := 0
	for _, k := range keys {
		idHash := k[len(prefix):]
		if sessions.Get(idHash) != nil {
			if err := sessions.Delete(idHash); err != nil {
				return 0, err
			}
			n++
		}
		if err := byUser.Delete(k); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// userSessionKey returns the sessions_by_user key: userID, 0x00, idHash.
// With a nil idHash it is the prefix of all of the user's keys.
func userSessionKey(userID string, idHash []byte) []byte {
	k := make([]byte, 0, len(userID)+1+len(idHash))
	k = append(k, userID...)
	k = append(k, 0)
	return append(k, idHash...)
}
