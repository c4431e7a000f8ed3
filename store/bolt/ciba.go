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

// CIBA buckets (since version 8).
var (
	// ciba_requests: IDHash -> JSON store.CIBARequest.
	bucketCIBA = []byte("ciba_requests")
	// ciba_due: big-endian CheckAt in Unix nanoseconds, IDHash -> empty. A
	// request has an entry exactly when its CheckAt is set.
	bucketCIBADue = []byte("ciba_due")
)

// createCIBABuckets is migration 8: backchannel authentication requests.
// Nothing existing changes.
func createCIBABuckets(tx *bbolt.Tx) error {
	return createBucketsNamed(tx, bucketCIBA, bucketCIBADue)
}

func cibaDueKey(r store.CIBARequest) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(r.CheckAt.UnixNano()))
	return append(k, r.IDHash...)
}

// putCIBA writes r and keeps its due entry in step with old (nil for a new
// request).
func putCIBA(tx *bbolt.Tx, old *store.CIBARequest, r store.CIBARequest) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	due := tx.Bucket(bucketCIBADue)
	if old != nil && !old.CheckAt.IsZero() {
		if err := due.Delete(cibaDueKey(*old)); err != nil {
			return err
		}
	}
	if !r.CheckAt.IsZero() {
		if err := due.Put(cibaDueKey(r), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketCIBA).Put(r.IDHash, v)
}

func getCIBA(tx *bbolt.Tx, idHash []byte) (store.CIBARequest, error) {
	if len(idHash) == 0 {
		return store.CIBARequest{}, store.ErrNotFound
	}
	v := tx.Bucket(bucketCIBA).Get(idHash)
	if v == nil {
		return store.CIBARequest{}, store.ErrNotFound
	}
	var r store.CIBARequest
	if err := json.Unmarshal(v, &r); err != nil {
		return store.CIBARequest{}, fmt.Errorf("decode ciba request: %w", err)
	}
	return r, nil
}

// CreateCIBARequest inserts r.
func (d *DB) CreateCIBARequest(ctx context.Context, r store.CIBARequest) error {
	if len(r.IDHash) == 0 {
		return errors.New("create ciba request: empty id hash")
	}
	r.Version = 1
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketCIBA).Get(r.IDHash) != nil {
			return store.ErrExists
		}
		return putCIBA(tx, nil, r)
	})
	if err != nil {
		return fmt.Errorf("create ciba request: %w", err)
	}
	return nil
}

// GetCIBARequest returns one request.
func (d *DB) GetCIBARequest(ctx context.Context, idHash []byte) (store.CIBARequest, error) {
	var r store.CIBARequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		r, err = getCIBA(tx, idHash)
		return err
	})
	if err != nil {
		return store.CIBARequest{}, fmt.Errorf("get ciba request: %w", err)
	}
	return r, nil
}

// UpdateCIBARequest reads, changes and writes one request in a single
// transaction (batched: concurrent polls share an fsync).
func (d *DB) UpdateCIBARequest(ctx context.Context, idHash []byte, fn func(store.CIBARequest) (store.CIBARequest, error)) (store.CIBARequest, error) {
	var out store.CIBARequest
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		old, err := getCIBA(tx, idHash)
		if err != nil {
			return err
		}
		r, err := fn(old)
		if err != nil {
			return err
		}
		r.IDHash = old.IDHash
		r.Version = old.Version + 1
		out = r
		return putCIBA(tx, &old, r)
	})
	if err != nil {
		return store.CIBARequest{}, fmt.Errorf("update ciba request: %w", err)
	}
	return out, nil
}

// DueCIBARequests walks the due index up to now.
func (d *DB) DueCIBARequests(ctx context.Context, now time.Time, limit int) ([]store.CIBARequest, error) {
	limit = clampLimit(limit)
	end := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	var out []store.CIBARequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketCIBADue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < 8 || bytes.Compare(k[:8], end) > 0 {
				break
			}
			r, err := getCIBA(tx, k[8:])
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list due ciba requests: %w", err)
	}
	return out, nil
}

// DeleteExpiredCIBARequests removes the requests whose ExpiresAt is before
// now, with their due entries. It reads every request.
func (d *DB) DeleteExpiredCIBARequests(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		var expired []store.CIBARequest
		err := tx.Bucket(bucketCIBA).ForEach(func(k, v []byte) error {
			var r store.CIBARequest
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode ciba request: %w", err)
			}
			if r.ExpiresAt.Before(now) {
				expired = append(expired, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range expired {
			if !r.CheckAt.IsZero() {
				if err := tx.Bucket(bucketCIBADue).Delete(cibaDueKey(r)); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bucketCIBA).Delete(r.IDHash); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired ciba requests: %w", err)
	}
	return n, nil
}
