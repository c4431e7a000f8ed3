package push_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
)

// TestConsumeOnce spends an approval exactly once, even when several
// callers race for it, and refuses pending and denied requests.
func TestConsumeOnce(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k := f.keys.add("app_1", "u1")
	r, err := f.svc.Create(ctx, payment("u1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Consume(ctx, "u1", r.ID); !errors.Is(err, push.ErrConsumed) {
		t.Fatalf("pending request: %v, want ErrConsumed", err)
	}
	if _, err := f.svc.Consume(ctx, "u1", "pr_nope"); !errors.Is(err, push.ErrUnknownRequest) {
		t.Fatalf("unknown request: %v, want ErrUnknownRequest", err)
	}
	if _, err := f.svc.Decide(ctx, "app_1", sign(t, k, r, approve(r, r.Number))); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := f.svc.Consume(ctx, "u1", r.ID)
			switch {
			case err == nil:
				if got.ConsumedAt.IsZero() || got.Status != store.PushApproved {
					t.Errorf("consumed: %+v", got)
				}
				wins.Add(1)
			case !errors.Is(err, push.ErrConsumed):
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers consumed the approval, want 1", wins.Load())
	}
	if got, _ := f.svc.Get(ctx, "u1", r.ID); got.ConsumedAt.IsZero() {
		t.Fatal("consumption not stored")
	}

	f.advance(5 * time.Minute)
	r2, err := f.svc.Create(ctx, payment("u1"))
	if err != nil {
		t.Fatal(err)
	}
	deny := approve(r2, r2.Number)
	deny.Decision = push.Deny
	if _, err := f.svc.Decide(ctx, "app_1", sign(t, k, r2, deny)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Consume(ctx, "u1", r2.ID); !errors.Is(err, push.ErrConsumed) {
		t.Fatalf("denied request: %v, want ErrConsumed", err)
	}
}
