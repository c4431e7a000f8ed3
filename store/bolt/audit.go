package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// AppendAudit appends e, assigning the next sequence number, which it
// returns. Concurrent appends (and counter updates) share one commit, so a
// lone append may wait up to bbolt's batch delay (10ms) for company. The
// sequence is taken from the audit bucket inside that commit, so it never
// repeats and has no gaps left by failed writes.
func (d *DB) AppendAudit(ctx context.Context, e store.AuditEvent) (uint64, error) {
	var seq uint64
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		// Batch may run this more than once; every run starts over from tx.
		audit := tx.Bucket(bucketAudit)
		n, err := audit.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = n
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := audit.Put(seqKey(n), v); err != nil {
			return err
		}
		seq = n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("append audit event %s: %w", e.Kind, err)
	}
	return seq, nil
}

// ListAudit returns up to limit events with Seq greater than after, in
// ascending Seq order. A limit of zero or less means 100; more than 1000
// means 1000.
func (d *DB) ListAudit(ctx context.Context, after uint64, limit int) ([]store.AuditEvent, error) {
	limit = clampLimit(limit)
	var events []store.AuditEvent
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if after == math.MaxUint64 {
			return nil
		}
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(events) < limit; k, v = c.Next() {
			var e store.AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode audit event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}

// AddCounter adds delta to the named counter and returns its new value.
// Concurrent calls share one commit and none is lost. The value wraps on
// overflow.
func (d *DB) AddCounter(ctx context.Context, name string, delta int64) (int64, error) {
	if name == "" {
		return 0, errors.New("add to counter: empty name")
	}
	var out int64
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		// Batch may run this more than once; every run starts over from tx.
		counters := tx.Bucket(bucketCounters)
		n, err := decodeCounter(counters.Get([]byte(name)))
		if err != nil {
			return err
		}
		n += delta
		if err := counters.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
			return err
		}
		out = n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add to counter %q: %w", name, err)
	}
	return out, nil
}

// Counter returns the named counter's value, 0 if never set.
func (d *DB) Counter(ctx context.Context, name string) (int64, error) {
	var n int64
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = decodeCounter(tx.Bucket(bucketCounters).Get([]byte(name)))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read counter %q: %w", name, err)
	}
	return n, nil
}

func decodeCounter(v []byte) (int64, error) {
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	return 0, fmt.Errorf("malformed counter value of %d bytes", len(v))
}

// seqKey encodes an audit sequence number so that byte order is numeric
// order.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}
