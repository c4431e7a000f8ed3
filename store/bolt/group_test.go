package bolt

import (
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// TestGroupCommitShares checks that concurrent writes share commits and
// that every one of them is durable: the file is closed and reopened.
func TestGroupCommitShares(t *testing.T) {
	// With fsync on, a commit takes long enough for the others to queue.
	path := filepath.Join(t.TempDir(), "assent.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	before := db.group.commits.Load()
	const n = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if _, err := db.AddCounter(ctx, "shared", 1); err != nil {
				t.Errorf("AddCounter: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	commits := db.group.commits.Load() - before
	if commits >= n {
		t.Errorf("%d writes took %d commits: none shared", n, commits)
	}
	t.Logf("%d writes in %d commits", n, commits)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	re, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	v, err := re.AddCounter(ctx, "shared", 0)
	if err != nil {
		t.Fatal(err)
	}
	if v != n {
		t.Errorf("counter after reopening = %d, want %d", v, n)
	}
}

// TestGroupCommitPanic checks that a panicking write panics in its own
// caller, as a plain transaction would, and that the committer goes on
// serving the others.
func TestGroupCommitPanic(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a panicking write did not panic in its caller")
			}
		}()
		db.batch(ctx, func(*bbolt.Tx) error { panic("bad write") })
	}()
	if _, err := db.AddCounter(ctx, "after", 1); err != nil {
		t.Fatalf("write after the panic: %v", err)
	}
}

// TestGroupCommitClose checks that writes racing with Close either commit
// or fail with store.ErrClosed, and never hang.
func TestGroupCommitClose(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	var ok, closed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := db.AddCounter(ctx, "c", 1)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrClosed):
				closed.Add(1)
			default:
				t.Errorf("AddCounter during Close: %v", err)
			}
		})
	}
	db.Close()
	wg.Wait()
	if ok.Load()+closed.Load() != 50 {
		t.Errorf("%d committed + %d refused, want 50", ok.Load(), closed.Load())
	}
	if _, err := db.AddCounter(ctx, "c", 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("write after Close: %v, want store.ErrClosed", err)
	}
}
