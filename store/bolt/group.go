package bolt

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one commit.
const maxGroup = 512

// lazyWait is the longest a lazy write (store.WithLazyCommit) waits for
// other writes to share its commit. Under a steady stream of background
// writes (an audit event per client credentials grant, say) it turns a
// commit per write the disk can take into at most one per lazyWait, and
// each fsync is time a thread holds one of the runtime's processors.
const lazyWait = 10 * time.Millisecond

// Group commit. bbolt's own Batch closes a batch after a fixed delay and
// then queues it behind the commit in progress, so under load the commits
// stay small (whatever arrived in one delay) while the writes wait for
// both the delay and the queue; a lone write on a quiet server waits the
// whole delay for company that never comes. The committer below starts a
// commit as soon as the writer is free, with every write that arrived
// while the previous commit ran: no delay when the server is idle, and
// commits that grow with the load, so that throughput is bounded by how
// many writes one fsync can carry rather than by a timer.
//
// The one exception is a lazy write, which nobody waits for: when every
// write gathered is lazy, the committer waits up to lazyWait for more (or
// for a write somebody waits for, which it then commits at once along with
// the lazy ones).

// groupCall is one write waiting for a commit.
type groupCall struct {
	fn   func(*bbolt.Tx) error
	err  chan error
	lazy bool
}

// errSolo tells a caller that its function failed inside a shared commit
// and must run again in a transaction of its own, so that its error does
// not depend on the writes it happened to share the commit with.
var errSolo = errors.New("run again alone")

// committer runs shared commits for DB.batch.
type committer struct {
	// commits counts the transactions committed or attempted.
	commits atomic.Uint64
	calls   chan *groupCall
	// lazyWait is how long lazy writes wait for company (the package's
	// lazyWait; tests lengthen it).
	lazyWait time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func startCommitter(db *bbolt.DB, lazyWait time.Duration) *committer {
	c := &committer{calls: make(chan *groupCall), lazyWait: lazyWait, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop(db)
	return c
}

// close stops the committer after the writes already handed to it.
func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

func (c *committer) loop(db *bbolt.DB) {
	defer close(c.done)
	group := make([]*groupCall, 0, maxGroup)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		select {
		case first := <-c.calls:
			group = append(group[:0], first)
		case <-c.stop:
			return
		}
		urgent := !group[0].lazy
	gather:
		for len(group) < maxGroup {
			select {
			case next := <-c.calls:
				group = append(group, next)
				urgent = urgent || !next.lazy
			default:
				break gather
			}
		}
		if !urgent && len(group) < maxGroup {
			linger.Reset(c.lazyWait)
		wait:
			for len(group) < maxGroup {
				select {
				case next := <-c.calls:
					group = append(group, next)
					if !next.lazy {
						break wait
					}
				case <-linger.C:
					break wait
				case <-c.stop:
					break wait
				}
			}
			linger.Stop()
		}
		c.commitGroup(db, group)
		clear(group)
	}
}

// commitGroup runs the functions of group in one transaction. A function
// that fails is taken out and told to run alone, and the rest start over
// from a fresh transaction, as bbolt's Batch does.
func (c *committer) commitGroup(db *bbolt.DB, group []*groupCall) {
	for len(group) > 0 {
		c.commits.Add(1)
		failed := -1
		err := db.Update(func(tx *bbolt.Tx) error {
			for i, g := range group {
				if err := callSafely(g.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			group[failed].err <- errSolo
			group = append(group[:failed], group[failed+1:]...)
			continue
		}
		for _, g := range group {
			g.err <- err
		}
		return
	}
}

// callSafely turns a panic in fn into an error, so that one bad write
// cannot take the committer (and every later write) down with it. The
// write then runs alone in its caller's goroutine, where a panic is the
// caller's, as with a plain transaction.
func callSafely(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a batched write: %v", p)
		}
	}()
	return fn(tx)
}

// run hands fn to the committer and waits for its commit; lazy lets the
// committer hold it up to lazyWait for company. It reports false when the
// committer has stopped and fn was not taken.
func (c *committer) run(db *bbolt.DB, fn func(*bbolt.Tx) error, lazy bool) (error, bool) {
	call := &groupCall{fn: fn, err: make(chan error, 1), lazy: lazy}
	select {
	case c.calls <- call:
	case <-c.done:
		return nil, false
	}
	err := <-call.err
	if err == errSolo {
		err = db.Update(fn)
	}
	return err, true
}
