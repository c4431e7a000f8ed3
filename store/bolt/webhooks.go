package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// bucketWebhooks holds downstream deliveries (since version 10): endpoint,
// 0x00, big-endian Seq -> JSON store.WebhookDelivery. Seq comes from the
// bucket's own sequence.
var bucketWebhooks = []byte("webhooks")

// createWebhookBucket is migration 10. Nothing existing changes.
func createWebhookBucket(tx *bbolt.Tx) error { return createBucketsNamed(tx, bucketWebhooks) }

func webhookKey(endpoint string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefixedKey(endpoint, nil), seq)
}

func validEndpoint(e string) error {
	if e == "" || strings.IndexByte(e, 0) >= 0 {
		return errors.New("invalid endpoint name")
	}
	return nil
}

// EnqueueWebhooks appends ds in one transaction.
func (d *DB) EnqueueWebhooks(ctx context.Context, ds []store.WebhookDelivery) ([]store.WebhookDelivery, error) {
	for _, w := range ds {
		if err := validEndpoint(w.Endpoint); err != nil {
			return nil, fmt.Errorf("enqueue webhooks: %w", err)
		}
	}
	out := make([]store.WebhookDelivery, len(ds))
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		for i, w := range ds {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			w.Seq = seq
			w.CreatedAt, w.NextAttempt = w.CreatedAt.UTC(), w.NextAttempt.UTC()
			v, err := json.Marshal(w)
			if err != nil {
				return err
			}
			if err := b.Put(webhookKey(w.Endpoint, seq), v); err != nil {
				return err
			}
			out[i] = w
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue webhooks: %w", err)
	}
	return out, nil
}

// PendingWebhooks returns the endpoint's undelivered deliveries, oldest
// first.
func (d *DB) PendingWebhooks(ctx context.Context, endpoint string, limit int) ([]store.WebhookDelivery, error) {
	limit = clampLimit(limit)
	var out []store.WebhookDelivery
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return scanWebhooks(tx, endpoint, 0, func(w store.WebhookDelivery) bool {
			if w.DeliveredAt.IsZero() {
				out = append(out, w)
			}
			return len(out) < limit
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pending webhooks of %q: %w", endpoint, err)
	}
	return out, nil
}

// ListWebhooks returns the endpoint's deliveries after the given Seq.
func (d *DB) ListWebhooks(ctx context.Context, endpoint string, after uint64, limit int) ([]store.WebhookDelivery, error) {
	limit = clampLimit(limit)
	var out []store.WebhookDelivery
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		return scanWebhooks(tx, endpoint, after+1, func(w store.WebhookDelivery) bool {
			out = append(out, w)
			return len(out) < limit
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks of %q: %w", endpoint, err)
	}
	return out, nil
}

// scanWebhooks calls fn for the endpoint's deliveries from Seq from on,
// until fn returns false.
func scanWebhooks(tx *bbolt.Tx, endpoint string, from uint64, fn func(store.WebhookDelivery) bool) error {
	prefix := prefixedKey(endpoint, nil)
	c := tx.Bucket(bucketWebhooks).Cursor()
	for k, v := c.Seek(webhookKey(endpoint, from)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var w store.WebhookDelivery
		if err := json.Unmarshal(v, &w); err != nil {
			return fmt.Errorf("decode webhook delivery: %w", err)
		}
		if !fn(w) {
			return nil
		}
	}
	return nil
}

// RetryWebhook records a failed attempt.
func (d *DB) RetryWebhook(ctx context.Context, endpoint string, seq uint64, next time.Time, lastError string) error {
	return d.updateWebhook(ctx, endpoint, seq, func(w *store.WebhookDelivery) {
		w.Attempts++
		w.NextAttempt = next.UTC()
		w.LastError = lastError
	})
}

// MarkWebhookDelivered records the delivery and drops its data.
func (d *DB) MarkWebhookDelivered(ctx context.Context, endpoint string, seq uint64, t time.Time) error {
	return d.updateWebhook(ctx, endpoint, seq, func(w *store.WebhookDelivery) {
		w.Attempts++
		w.DeliveredAt = t.UTC()
		w.Data = nil
		w.LastError = ""
	})
}

func (d *DB) updateWebhook(ctx context.Context, endpoint string, seq uint64, fn func(*store.WebhookDelivery)) error {
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		k := webhookKey(endpoint, seq)
		var w store.WebhookDelivery
		if err := getJSON(b, k, &w); err != nil {
			return err
		}
		if !w.DeliveredAt.IsZero() {
			return store.ErrNotFound
		}
		fn(&w)
		v, err := json.Marshal(w)
		if err != nil {
			return err
		}
		return b.Put(k, v)
	})
	if err != nil {
		return fmt.Errorf("update webhook %s/%d: %w", endpoint, seq, err)
	}
	return nil
}

// eraseUserWebhooks removes the user's pending deliveries and puts the
// pseudonym in the delivered ones, inside tx; EraseUser calls it.
func eraseUserWebhooks(tx *bbolt.Tx, id, pseudonym string) error {
	b := tx.Bucket(bucketWebhooks)
	type change struct {
		k, v []byte
	}
	var changes []change
	err := b.ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, []byte(id)) {
			return nil
		}
		var w store.WebhookDelivery
		if err := json.Unmarshal(v, &w); err != nil {
			return fmt.Errorf("decode webhook delivery: %w", err)
		}
		if w.UserID != id {
			return nil
		}
		if w.DeliveredAt.IsZero() {
			changes = append(changes, change{bytes.Clone(k), nil})
			return nil
		}
		w.UserID = pseudonym
		nv, err := json.Marshal(w)
		if err != nil {
			return err
		}
		changes = append(changes, change{bytes.Clone(k), nv})
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.v == nil {
			err = b.Delete(c.k)
		} else {
			err = b.Put(c.k, c.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
