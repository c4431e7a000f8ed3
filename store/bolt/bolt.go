package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/assent-auth/assent/store"
)

// ErrLocked reports that the data file is locked by another process, most
// likely a second assentd pointed at the same data directory.
var ErrLocked = errors.New("in use by another process (another assentd on the same data directory?)")

// ErrSchemaTooNew reports a data file written by a newer release, whose
// schema this build does not know. Opening it could corrupt it, so it is
// refused.
var ErrSchemaTooNew = errors.New("data file schema is newer than this build supports")

// defaultTimeout is how long Open waits for the file lock when
// Options.Timeout is not set.
const defaultTimeout = time.Second

// Options tune Open. The zero value is ready for production use.
type Options struct {
	// Timeout is how long Open waits for the file lock before failing with
	// ErrLocked. Zero or negative means one second; Open never waits forever.
	Timeout time.Duration
	// NoSync skips fsync on commit. A crash may then lose or corrupt recent
	// writes: for tests and benchmarks only.
	NoSync bool
}

// DB is a store.Store backed by a single bbolt file. It is safe for
// concurrent use: reads run in read-only transactions alongside each other
// and alongside the one writer bbolt allows at a time.
//
// Each write method is a single transaction, so it applies entirely or not at
// all. Every method fails with store.ErrClosed after Close, and with the
// context's error if ctx is done before it starts. Errors carry the
// operation; compare them with errors.Is.
type DB struct {
	db     *bbolt.DB
	group  *committer
	closed atomic.Bool
}

var _ store.Store = (*DB)(nil)

// Open opens the data file at path, creating it with mode 0600 if it does not
// exist, and brings its schema up to date. If another process holds the file,
// Open gives up after opts.Timeout with an error wrapping ErrLocked. A file
// written by a newer release is refused with an error wrapping
// ErrSchemaTooNew.
func Open(path string, opts Options) (*DB, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: timeout,
		NoSync:  opts.NoSync,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(bdb); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &DB{db: bdb, group: startCommitter(bdb, lazyWait)}, nil
}

// Close waits for running transactions to finish and releases the file.
// Later calls, Close included, fail with store.ErrClosed.
func (d *DB) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	d.group.close()
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", d.db.Path(), err)
	}
	return nil
}

// view runs fn in a read-only transaction.
func (d *DB) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	return mapErr(d.db.View(fn))
}

// update runs fn in a read-write transaction of its own, committed with
// fsync. fn does not run if ctx ends while the call waits for the writer
// lock.
func (d *DB) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	return mapErr(d.db.Update(func(tx *bbolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	}))
}

// batch runs fn in a read-write transaction that may be shared with other
// concurrent callers, so that they share one fsync. fn may run more than
// once; it must compute everything from tx and overwrite, not accumulate,
// any result it hands back. Under store.WithLazyCommit the commit may wait
// a few milliseconds for company.
func (d *DB) batch(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	err, ok := d.group.run(d.db, func(tx *bbolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	}, store.LazyCommit(ctx))
	if !ok {
		return store.ErrClosed
	}
	return mapErr(err)
}

// ready reports whether a call may start.
func (d *DB) ready(ctx context.Context) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// mapErr turns driver errors into store sentinels. A call that raced with
// Close finds the database no longer open.
func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// clampLimit turns a caller's page size into one the store serves.
func clampLimit(limit int) int {
	switch {
	case limit <= 0:
		return defaultListLimit
	case limit > maxListLimit:
		return maxListLimit
	}
	return limit
}

const (
	// defaultListLimit is the page size when the caller asks for none.
	defaultListLimit = 100
	// maxListLimit caps one page so a single call cannot hold a read
	// transaction open over the whole file.
	maxListLimit = 1000
)
