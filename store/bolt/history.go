package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// History layout. A user's sign-ins and payments are keyed
//
//	user id, 0x00, time (8 bytes), sequence (8 bytes)
//
// where time is the Unix nanoseconds, big-endian with the sign bit flipped,
// so that byte order is time order, and sequence is the bucket's own, which
// keeps records of the same nanosecond apart, in the order they were
// appended. A reverse cursor from the end of the user's range reads the
// newest first and touches only what it returns. Times outside the years
// 1678 to 2262 are clamped in the key (the value keeps them exactly).
//
// history_users holds, per user, how many sign-ins and payments are stored,
// so that an append knows without counting whether to trim, and the time of
// the last report. Counts change only in the transaction that adds or
// removes the records.

// trimStep bounds how many old records one append removes, so that no
// append does unbounded work under the writer lock. An append adds one, so
// in the steady state it removes one.
const trimStep = 8

// historyUser is the per-user summary in history_users.
type historyUser struct {
	signIns    uint64
	payments   uint64
	lastReport time.Time
}

// A history_users value is: format byte (historyUserFormat), sign-in count
// uvarint, payment count uvarint, last report time.
const historyUserFormat = 1

var errMalformedHistoryUser = errors.New("malformed history summary")

func (h historyUser) encode() []byte {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64)
	b = append(b, historyUserFormat)
	b = binary.AppendUvarint(b, h.signIns)
	b = binary.AppendUvarint(b, h.payments)
	return appendTime(b, h.lastReport)
}

func decodeHistoryUser(v []byte) (historyUser, error) {
	if len(v) == 0 || v[0] != historyUserFormat {
		return historyUser{}, errMalformedHistoryUser
	}
	d := decoder[[]byte]{b: v[1:]}
	h := historyUser{signIns: d.uvarint(), payments: d.uvarint(), lastReport: d.time()}
	if d.bad || len(d.b) != 0 {
		return historyUser{}, errMalformedHistoryUser
	}
	return h, nil
}

// getHistoryUser returns the user's summary; the zero summary if there is
// none yet.
func getHistoryUser(tx *bbolt.Tx, userID string) (historyUser, error) {
	v := tx.Bucket(bucketHistoryUsers).Get([]byte(userID))
	if v == nil {
		return historyUser{}, nil
	}
	return decodeHistoryUser(v)
}

func putHistoryUser(tx *bbolt.Tx, userID string, h historyUser) error {
	return tx.Bucket(bucketHistoryUsers).Put([]byte(userID), h.encode())
}

// AppendSignIn records a successful sign-in. If r has a DeviceID and Strong
// is set, the device counts as seen from r.Time on, or from the earliest
// time of any such record. The store keeps the newest store.MaxSignIns of the
// user's sign-ins and drops older ones as new ones arrive.
//
// Concurrent appends share one commit (see AppendAudit). It fails with
// store.ErrNotFound if the user does not exist, checked in the same
// transaction, so that history never outlives an erased user.
func (d *DB) AppendSignIn(ctx context.Context, userID string, r store.SignInRecord) error {
	if err := validUserID(userID); err != nil {
		return fmt.Errorf("append sign-in: %w", err)
	}
	v := encodeSignIn(r)
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		// Batch may run this more than once; every run starts over from tx.
		if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
			return store.ErrNotFound
		}
		h, err := getHistoryUser(tx, userID)
		if err != nil {
			return err
		}
		h.signIns, err = appendHistory(tx.Bucket(bucketSignIns), userID, r.Time, v, h.signIns, store.MaxSignIns)
		if err != nil {
			return err
		}
		if r.DeviceID != "" && r.Strong {
			if err := recordFirstSeen(tx.Bucket(bucketDevices), userKey(userID, r.DeviceID), r.Time); err != nil {
				return err
			}
		}
		return putHistoryUser(tx, userID, h)
	})
	if err != nil {
		return fmt.Errorf("append sign-in of user %q: %w", userID, err)
	}
	return nil
}

// ListSignIns returns up to limit of the user's newest sign-ins, newest
// first; none for an unknown user. A limit of zero or less means 100; more
// than 1000 means 1000. It reads only the records it returns. Times come
// back in UTC.
func (d *DB) ListSignIns(ctx context.Context, userID string, limit int) ([]store.SignInRecord, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", err)
	}
	limit = clampLimit(limit)
	var raw rawRecords
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		h, err := getHistoryUser(tx, userID)
		if err != nil {
			return err
		}
		raw.grow(min(limit, int(min(h.signIns, maxListLimit))), signInSizeHint)
		prefix := userKey(userID, "")
		c := tx.Bucket(bucketSignIns).Cursor()
		for k, v := lastWithPrefix(c, prefix); k != nil && raw.len() < limit; k, v = c.Prev() {
			if !bytes.HasPrefix(k, prefix) {
				break
			}
			raw.add(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sign-ins of user %q: %w", userID, err)
	}
	out, err := decodeRecords(&raw, decodeSignInTo[string])
	if err != nil {
		return nil, fmt.Errorf("list sign-ins of user %q: %w", userID, err)
	}
	return out, nil
}

// AppendPayment records an authorised payment and remembers its payee
// (unless r.Payee is empty) as first paid at r.Time, or at the earliest time
// of any payment to it. The store keeps the newest store.MaxPayments of the
// user's payments and drops older ones as new ones arrive.
//
// Concurrent appends share one commit. It fails with store.ErrNotFound if
// the user does not exist, checked in the same transaction.
func (d *DB) AppendPayment(ctx context.Context, userID string, r store.PaymentRecord) error {
	if err := validUserID(userID); err != nil {
		return fmt.Errorf("append payment: %w", err)
	}
	v := encodePayment(r)
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		// Batch may run this more than once; every run starts over from tx.
		if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
			return store.ErrNotFound
		}
		h, err := getHistoryUser(tx, userID)
		if err != nil {
			return err
		}
		h.payments, err = appendHistory(tx.Bucket(bucketPayments), userID, r.Time, v, h.payments, store.MaxPayments)
		if err != nil {
			return err
		}
		if r.Payee != "" {
			if err := recordFirstSeen(tx.Bucket(bucketPayees), userKey(userID, r.Payee), r.Time); err != nil {
				return err
			}
		}
		return putHistoryUser(tx, userID, h)
	})
	if err != nil {
		return fmt.Errorf("append payment of user %q: %w", userID, err)
	}
	return nil
}

// ListPayments returns up to limit of the user's payments at or after since,
// newest first; none for an unknown user. A limit of zero or less means 100;
// more than 1000 means 1000. It reads only the records it returns. Times
// come back in UTC.
func (d *DB) ListPayments(ctx context.Context, userID string, since time.Time, limit int) ([]store.PaymentRecord, error) {
	if err := validUserID(userID); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	limit = clampLimit(limit)
	sinceKey := timeKey(since)
	var raw rawRecords
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		h, err := getHistoryUser(tx, userID)
		if err != nil {
			return err
		}
		raw.grow(min(limit, int(min(h.payments, maxListLimit))), paymentSizeHint)
		prefix := userKey(userID, "")
		c := tx.Bucket(bucketPayments).Cursor()
		for k, v := lastWithPrefix(c, prefix); k != nil && raw.len() < limit; k, v = c.Prev() {
			if !bytes.HasPrefix(k, prefix) {
				break
			}
			if len(k) != len(prefix)+16 {
				return fmt.Errorf("malformed payment key %q", k)
			}
			switch kt := binary.BigEndian.Uint64(k[len(prefix):]); {
			case kt < sinceKey:
				return nil // older than since, and so is everything after it
			case kt == sinceKey:
				// The same nanosecond as since, or a time clamped in the
				// key: only the record can tell whether it is before since.
				r, err := decodePayment(v)
				if err != nil {
					return err
				}
				if r.Time.Before(since) {
					continue
				}
			}
			raw.add(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list payments of user %q: %w", userID, err)
	}
	out, err := decodeRecords(&raw, decodePaymentTo[string])
	if err != nil {
		return nil, fmt.Errorf("list payments of user %q: %w", userID, err)
	}
	return out, nil
}

// DeviceFirstSeen returns the earliest time of a strong sign-in of the user
// from the device, or the zero time if there is none (or deviceID is empty).
func (d *DB) DeviceFirstSeen(ctx context.Context, userID, deviceID string) (time.Time, error) {
	t, err := d.firstSeen(ctx, bucketDevices, userID, deviceID)
	if err != nil {
		return time.Time{}, fmt.Errorf("device first seen for user %q: %w", userID, err)
	}
	return t, nil
}

// PayeeFirstSeen returns the earliest time of a payment of the user to the
// payee, or the zero time if there is none (or payee is empty).
func (d *DB) PayeeFirstSeen(ctx context.Context, userID, payee string) (time.Time, error) {
	t, err := d.firstSeen(ctx, bucketPayees, userID, payee)
	if err != nil {
		return time.Time{}, fmt.Errorf("payee first seen for user %q: %w", userID, err)
	}
	return t, nil
}

func (d *DB) firstSeen(ctx context.Context, bucket []byte, userID, name string) (time.Time, error) {
	if err := validUserID(userID); err != nil {
		return time.Time{}, err
	}
	var t time.Time
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if name == "" {
			return nil
		}
		v := tx.Bucket(bucket).Get(userKey(userID, name))
		if v == nil {
			return nil
		}
		var err error
		t, err = decodeTime(v)
		return err
	})
	return t, err
}

// SetLastReport records that the user reported "this wasn't me" at t. The
// later of t and the time already recorded is kept, so reports that arrive
// out of order do not move it back. Concurrent calls share one commit. It
// fails with store.ErrNotFound if the user does not exist.
func (d *DB) SetLastReport(ctx context.Context, userID string, t time.Time) error {
	if err := validUserID(userID); err != nil {
		return fmt.Errorf("set last report: %w", err)
	}
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
			return store.ErrNotFound
		}
		h, err := getHistoryUser(tx, userID)
		if err != nil {
			return err
		}
		if !t.After(h.lastReport) {
			return nil
		}
		h.lastReport = t
		return putHistoryUser(tx, userID, h)
	})
	if err != nil {
		return fmt.Errorf("set last report of user %q: %w", userID, err)
	}
	return nil
}

// LastReport returns the time of the user's latest report, or the zero time.
func (d *DB) LastReport(ctx context.Context, userID string) (time.Time, error) {
	if err := validUserID(userID); err != nil {
		return time.Time{}, fmt.Errorf("last report: %w", err)
	}
	var t time.Time
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		h, err := getHistoryUser(tx, userID)
		t = h.lastReport
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("last report of user %q: %w", userID, err)
	}
	return t, nil
}

// Typical encoded sizes, to size the buffer of a list read.
const (
	signInSizeHint  = 128
	paymentSizeHint = 48
)

// rawRecords holds values copied out of a read transaction, back to back in
// one string, so that they are decoded after it ends and their strings
// share that one allocation.
type rawRecords struct {
	buf  strings.Builder
	ends []int
}

func (r *rawRecords) grow(n, size int) {
	r.buf.Grow(n * size)
	r.ends = make([]int, 0, n)
}

func (r *rawRecords) add(v []byte) {
	r.buf.Write(v)
	r.ends = append(r.ends, r.buf.Len())
}

func (r *rawRecords) len() int { return len(r.ends) }

// decodeRecords decodes every value in r, in order; nil if there are none.
func decodeRecords[R any](r *rawRecords, decode func(*R, string) error) ([]R, error) {
	if len(r.ends) == 0 {
		return nil, nil
	}
	src := r.buf.String()
	out := make([]R, len(r.ends))
	start := 0
	for i, end := range r.ends {
		if err := decode(&out[i], src[start:end]); err != nil {
			return nil, err
		}
		start = end
	}
	return out, nil
}

// deleteUserHistory removes all of the user's history inside tx.
func deleteUserHistory(tx *bbolt.Tx, userID string) error {
	prefix := userKey(userID, "")
	for _, name := range [][]byte{bucketSignIns, bucketPayments, bucketDevices, bucketPayees} {
		if _, err := deletePrefix(tx.Bucket(name), prefix, -1); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketHistoryUsers).Delete([]byte(userID))
}

// appendHistory puts v under a new key for t in the user's range of b,
// removes up to trimStep of the oldest records while there are more than
// keep, and returns the new number of records; n is the number before.
func appendHistory(b *bbolt.Bucket, userID string, t time.Time, v []byte, n uint64, keep int) (uint64, error) {
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := b.Put(historyKey(userID, t, seq), v); err != nil {
		return 0, err
	}
	n++
	if n <= uint64(keep) {
		return n, nil
	}
	removed, err := deletePrefix(b, userKey(userID, ""), int(min(n-uint64(keep), trimStep)))
	if err != nil {
		return 0, err
	}
	return n - uint64(removed), nil
}

// recordFirstSeen stores t under key unless an earlier time is there.
func recordFirstSeen(b *bbolt.Bucket, key []byte, t time.Time) error {
	if v := b.Get(key); v != nil {
		prev, err := decodeTime(v)
		if err != nil {
			return fmt.Errorf("read %q: %w", key, err)
		}
		if !t.Before(prev) {
			return nil
		}
	}
	return b.Put(key, encodeTime(t))
}

// historyKey returns the key of a record of userID at t with sequence seq.
func historyKey(userID string, t time.Time, seq uint64) []byte {
	k := make([]byte, 0, len(userID)+1+16)
	k = append(k, userID...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, timeKey(t))
	return binary.BigEndian.AppendUint64(k, seq)
}

// timeKey maps t to a number whose order is time order: the Unix
// nanoseconds with the sign bit flipped, clamped to what an int64 holds.
func timeKey(t time.Time) uint64 {
	var n int64
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		n = math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return uint64(n) ^ 1<<63
}

// userKey returns userID, 0x00, name: the key of something the user owns.
// With an empty name it is the prefix of all of the user's keys.
func userKey(userID, name string) []byte {
	k := make([]byte, 0, len(userID)+1+len(name))
	k = append(k, userID...)
	k = append(k, 0)
	return append(k, name...)
}

// lastWithPrefix moves c to the last key that begins with prefix, which ends
// in 0x00, and returns it; or, if there is none, some key before it (or nil)
// that the caller's prefix check stops at.
func lastWithPrefix(c *bbolt.Cursor, prefix []byte) ([]byte, []byte) {
	// The first key after the range: prefix with its final 0x00 made 0x01.
	end := make([]byte, len(prefix))
	copy(end, prefix)
	end[len(end)-1] = 1
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// deletePrefix removes the first limit keys (all if limit < 0) that begin
// with prefix from b and reports how many it removed.
func deletePrefix(b *bbolt.Bucket, prefix []byte, limit int) (int, error) {
	// Collect first: deleting under a live cursor skips keys.
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && (limit < 0 || len(keys) < limit); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
