package push_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/assent-auth/assent/store"
)

// BenchmarkApproval measures one approval without the network: a request
// created (and fanned out), a decision signed by the device and verified,
// the first-wins update committed, the waiting side notified. Users work in
// parallel, so bbolt's commits queue as they would under load.
func BenchmarkApproval(b *testing.B) {
	f := newFixture(b)
	var n atomic.Int64
	b.SetParallelism(32) // 64 users at once on two cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1)
		user, device := fmt.Sprint("bench", i), fmt.Sprint("app_bench", i)
		if err := f.db.CreateUser(b.Context(), store.User{ID: user, CreatedAt: f.now, UpdatedAt: f.now}); err != nil {
			b.Error(err)
			return
		}
		key := f.keys.add(device, user)
		events, cancel := f.svc.Subscribe(user)
		defer cancel()
		for pb.Next() {
			r, err := f.svc.Create(b.Context(), payment(user))
			if err != nil {
				b.Error(err)
				return
			}
			<-events
			if _, err := f.svc.Decide(b.Context(), device, sign(b, key, r, approve(r, r.Number))); err != nil {
				b.Error(err)
				return
			}
			<-events
		}
	})
}
