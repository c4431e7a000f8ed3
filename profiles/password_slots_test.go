package profiles

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestHasherBoundsConcurrentHashes: with every slot taken, Hash and
// Verify wait; a freed slot lets them through and they give it back.
func TestHasherBoundsConcurrentHashes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(fastArgon2Params)
		if cap(h.slots) != max(1, runtime.GOMAXPROCS(0)) {
			t.Fatalf("%d slots, want GOMAXPROCS", cap(h.slots))
		}
		enc, err := h.Hash("correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		for range cap(h.slots) {
			h.slots <- struct{}{}
		}
		var done atomic.Int32
		go func() {
			if _, err := h.Hash("another passphrase"); err == nil {
				done.Add(1)
			}
		}()
		go func() {
			if ok, _, _ := h.Verify(enc, "correct horse battery staple"); ok {
				done.Add(1)
			}
		}()
		synctest.Wait()
		if n := done.Load(); n != 0 {
			t.Fatalf("%d hashes ran with every slot taken", n)
		}
		// One freed slot serves both, one after the other; the rest stay
		// taken.
		<-h.slots
		synctest.Wait()
		if n := done.Load(); n != 2 {
			t.Fatalf("%d hashes done through the freed slot, want 2", n)
		}
		if len(h.slots) != cap(h.slots)-1 {
			t.Errorf("%d slots taken after the hashes, want %d", len(h.slots), cap(h.slots)-1)
		}
	})
}
