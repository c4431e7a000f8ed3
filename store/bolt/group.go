package bolt

import (
	"context"
	"sync"

	"go.etcd.io/bbolt"
)

// groupCommit shares one read-write transaction, and so one fsync, among
// the writes that arrive while the previous one commits: a leader-free
// group commit with no timer. A lone write commits at once (bbolt's Batch
// waits MaxBatchDelay for company first); under load, each commit takes
// everything that queued during the last fsync, up to maxGroup. Approval
// decisions go through it, so a burst of them costs a few fsyncs.
type groupCommit struct {
	mu      sync.Mutex
	pending []*groupCall
	running bool
}

type groupCall struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// maxGroup bounds the writes in one transaction.
const maxGroup = 256

// group runs fn in a read-write transaction that may be shared with other
// concurrent callers of group. Like batch, fn may run more than once and
// must compute everything from tx. If fn fails, it is run again alone to
// get an error of its own, and the others of its group run again without
// it.
func (d *DB) group(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	c := &groupCall{fn: func(tx *bbolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	}, done: make(chan error, 1)}
	g := &d.groups
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if !g.running {
		g.running = true
		go d.commitGroups()
	}
	g.mu.Unlock()
	return mapErr(<-c.done)
}

// commitGroups commits what is pending, group after group, until nothing
// is; it runs in a goroutine of its own while there is work.
func (d *DB) commitGroups() {
	g := &d.groups
	for {
		g.mu.Lock()
		n := min(len(g.pending), maxGroup)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		calls := g.pending[:n:n]
		g.pending = g.pending[n:]
		if len(g.pending) == 0 {
			g.pending = nil
		}
		g.mu.Unlock()
		d.commitGroup(calls)
	}
}

func (d *DB) commitGroup(calls []*groupCall) {
	if len(calls) == 1 {
		calls[0].done <- d.db.Update(calls[0].fn)
		return
	}
	failed := -1
	err := d.db.Update(func(tx *bbolt.Tx) error {
		for i, c := range calls {
			if err := c.fn(tx); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if failed < 0 {
		for _, c := range calls {
			c.done <- err // nil, or the commit's error for all
		}
		return
	}
	// The failed call's error may depend on what the others before it
	// wrote: it runs alone, and the rest again as a group.
	calls[failed].done <- d.db.Update(calls[failed].fn)
	rest := append(calls[:failed:failed], calls[failed+1:]...)
	if len(rest) > 0 {
		d.commitGroup(rest)
	}
}
