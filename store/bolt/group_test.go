package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"
)

// TestGroupCommit: concurrent writes share transactions, every write lands
// once, and a failing write gets its own error without taking the others
// of its group down.
func TestGroupCommit(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "assent.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	bucket := []byte("group_test")
	if err := d.update(t.Context(), func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var txs sync.Map
	var runs atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range 200 {
		wg.Go(func() {
			errs[i] = d.group(t.Context(), func(tx *bbolt.Tx) error {
				runs.Add(1)
				txs.Store(tx, true)
				if i%50 == 7 {
					return fmt.Errorf("write %d: %w", i, boom)
				}
				return tx.Bucket(bucket).Put([]byte(fmt.Sprint(i)), []byte("v"))
			})
		})
	}
	wg.Wait()
	n := 0
	txs.Range(func(any, any) bool { n++; return true })
	if n >= 200 {
		t.Errorf("%d transactions for 200 concurrent writes: none shared", n)
	}
	d.view(t.Context(), func(tx *bbolt.Tx) error {
		for i := range 200 {
			got := tx.Bucket(bucket).Get([]byte(fmt.Sprint(i)))
			if fail := i%50 == 7; fail != errors.Is(errs[i], boom) || fail != (got == nil) {
				t.Errorf("write %d: err %v, stored %v", i, errs[i], got != nil)
			}
		}
		return nil
	})
	t.Logf("200 writes in %d transactions, %d runs", n, runs.Load())

	// A cancelled context writes nothing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := d.group(ctx, func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put([]byte("late"), []byte("v")) }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
