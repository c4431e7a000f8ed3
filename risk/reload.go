package risk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader holds the active policy and swaps it atomically: assessments
// running during a reload finish with the policy they started with, and
// none waits. It is a PolicySource and safe for concurrent use.
type Reloader struct {
	cur  atomic.Pointer[Policy]
	mu   sync.Mutex // serialises reloads
	mod  time.Time  // modification time of the file last loaded
	size int64
}

// NewReloader returns a Reloader holding initial, which must not be nil.
func NewReloader(initial *Policy) *Reloader {
	if initial == nil {
		panic("risk: NewReloader with a nil policy")
	}
	r := &Reloader{}
	r.cur.Store(initial)
	return r
}

// Current returns the active policy.
func (r *Reloader) Current() *Policy { return r.cur.Load() }

// Swap makes p the active policy and returns the previous one.
func (r *Reloader) Swap(p *Policy) (old *Policy) {
	if p == nil {
		panic("risk: Swap with a nil policy")
	}
	return r.cur.Swap(p)
}

// ReloadFile loads the policy file at path and makes it active. On any
// error (unreadable file, invalid policy) the active policy is kept and the
// error, a *PolicyError for an invalid policy, is returned.
func (r *Reloader) ReloadFile(path string) (*Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(path)
}

func (r *Reloader) reloadLocked(path string) (*Policy, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reload risk policy: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reload risk policy: %w", err)
	}
	p, err := LoadPolicy(b)
	r.mod, r.size = fi.ModTime(), fi.Size() // a broken file is not retried until it changes
	if err != nil {
		return nil, fmt.Errorf("reload risk policy %s: %w", path, err)
	}
	r.cur.Store(p)
	return p, nil
}

// Watch polls path every interval and reloads the policy when the file's
// modification time or size changes, until ctx is done; it then returns
// ctx's error. Reload failures are logged (log may be nil) and the active
// policy is kept. The file as it is when Watch starts counts as already
// loaded.
func (r *Reloader) Watch(ctx context.Context, path string, interval time.Duration, log *slog.Logger) error {
	if interval <= 0 {
		return errors.New("risk: watch interval must be positive")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r.mu.Lock()
	if fi, err := os.Stat(path); err == nil && r.mod.IsZero() {
		r.mod, r.size = fi.ModTime(), fi.Size()
	}
	r.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			log.WarnContext(ctx, "risk policy file unreadable", "path", path, "err", err)
			continue
		}
		r.mu.Lock()
		changed := !fi.ModTime().Equal(r.mod) || fi.Size() != r.size
		var p *Policy
		if changed {
			p, err = r.reloadLocked(path)
		}
		r.mu.Unlock()
		switch {
		case !changed:
		case err != nil:
			log.ErrorContext(ctx, "risk policy reload failed; keeping the active policy",
				"path", path, "policy_version", r.Current().Version(), "err", err)
		default:
			log.InfoContext(ctx, "risk policy reloaded", "path", path, "policy_version", p.Version())
		}
	}
}
