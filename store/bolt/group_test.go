package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// lingering opens a store on a real file whose lazy writes wait up to
// wait for company.
func lingering(t *testing.T, wait time.Duration) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "assent.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.group.close()
	db.group = startCommitter(db.db, wait)
	return db, path
}

// counterAfterReopen reads the named counter from the file at path.
func counterAfterReopen(t *testing.T, path, name string) int64 {
	t.Helper()
	re, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	v, err := re.AddCounter(t.Context(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// lazyAdd adds one to the named counter under store.WithLazyCommit in the
// background and reports the outcome on the channel it returns.
func lazyAdd(db *DB, name string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := db.AddCounter(store.WithLazyCommit(context.Background()), name, 1)
		done <- err
	}()
	return done
}

// TestLazyCommitWaitsForCompany checks that a lazy write waits for
// company, that a write somebody waits for is committed at once and takes
// the waiting lazy write along in the same commit, and that both are
// durable.
func TestLazyCommitWaitsForCompany(t *testing.T) {
	db, path := lingering(t, time.Minute)
	before := db.group.commits.Load()
	lazy := lazyAdd(db, "lazy")
	select {
	case err := <-lazy:
		t.Fatalf("a lazy write returned (%v) before anything else came to share its commit", err)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	if _, err := db.AddCounter(t.Context(), "urgent", 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("an ordinary write took %v behind a lingering lazy write", d)
	}
	select {
	case err := <-lazy:
		if err != nil {
			t.Fatalf("lazy write: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lazy write was not committed along with the ordinary one")
	}
	if n := db.group.commits.Load() - before; n != 1 {
		t.Errorf("the two writes took %d commits, want 1", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lazy", "urgent"} {
		if v := counterAfterReopen(t, path, name); v != 1 {
			t.Errorf("counter %q after reopening = %d, want 1", name, v)
		}
	}
}

// TestLazyCommitAlone checks that lazy writes on their own share one
// commit after the wait, and no sooner.
func TestLazyCommitAlone(t *testing.T) {
	const wait = 200 * time.Millisecond
	db, path := lingering(t, wait)
	before := db.group.commits.Load()
	start := time.Now()
	var dones []<-chan error
	for range 5 {
		dones = append(dones, lazyAdd(db, "lazy"))
	}
	for _, done := range dones {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < wait {
		t.Errorf("lone lazy writes returned after %v, before the %v wait", d, wait)
	}
	// All five were handed over well within the wait; a very slow machine
	// may still split them.
	if n := db.group.commits.Load() - before; n > 2 {
		t.Errorf("5 lazy writes took %d commits", n)
	}
	db.Close()
	if v := counterAfterReopen(t, path, "lazy"); v != 5 {
		t.Errorf("counter after reopening = %d, want 5", v)
	}
}

// TestLazyCommitClose checks that Close commits a lingering lazy write
// instead of waiting out its wait or dropping it.
func TestLazyCommitClose(t *testing.T) {
	db, path := lingering(t, time.Hour)
	lazy := lazyAdd(db, "lazy")
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a lingering lazy write")
	}
	if err := <-lazy; err != nil {
		t.Fatalf("lazy write: %v", err)
	}
	if v := counterAfterReopen(t, path, "lazy"); v != 1 {
		t.Errorf("counter after reopening = %d, want 1", v)
	}
}
