package push_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// BenchmarkDecisionFatigue compares an approval's round trip without the
// network (a request created and fanned out, a decision signed by the
// device and verified, the first-wins update committed, the waiting side
// notified) with a denial's, which also writes the user's
// fatigue record to the store so that a lock outlives a restart. The
// rate limit and the lock are set so that neither refuses: every third
// denial locks the user for a nanosecond, which keeps records small. On
// the real clock, users in parallel.
func BenchmarkDecisionFatigue(b *testing.B) {
	for _, decision := range []string{"approve", "deny"} {
		b.Run(decision, func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "assent.db"), bolt.Options{Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			keys := &keyring{keys: map[string]devices.DeviceKey{}}
			svc, err := push.New(push.Config{Store: db, Devices: keys,
				Fatigue: push.Fatigue{MaxRequests: 1 << 30, RequestWindow: time.Nanosecond, LockFor: time.Nanosecond}})
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := n.Add(1)
				user, device := fmt.Sprint("bench", i), fmt.Sprint("app_bench", i)
				now := time.Now()
				if err := db.CreateUser(b.Context(), store.User{ID: user, CreatedAt: now, UpdatedAt: now}); err != nil {
					b.Error(err)
					return
				}
				key := keys.add(device, user)
				events, cancel := svc.Subscribe(user)
				defer cancel()
				for pb.Next() {
					r, err := svc.Create(b.Context(), payment(user))
					if err != nil {
						b.Error(err)
						return
					}
					<-events
					d := approve(r, r.Number)
					if decision == "deny" {
						d = deny(r)
					}
					if _, err := svc.Decide(b.Context(), device, sign(b, key, r, d)); err != nil {
						b.Error(err)
						return
					}
					<-events
				}
			})
		})
	}
}
