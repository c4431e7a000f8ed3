package authserver

import (
	"strconv"
	"testing"
	"time"
)

func TestSpentSet(t *testing.T) {
	c := newClock()
	s := newSpentSet(c.Now)
	until := c.Now().Add(flowTTL)
	if !s.spend("a", until) || s.spend("a", until) || !s.isSpent("a") || s.isSpent("b") {
		t.Fatal("a nonce is not spent exactly once")
	}
	// Full of live nonces, the set refuses rather than forget one.
	for i := len(s.m); i < maxSpentNonces; i++ {
		s.m[strconv.Itoa(i)] = until
	}
	if s.spend("b", until) {
		t.Fatal("a full set took another nonce")
	}
	// Once they have expired, room is made.
	c.Advance(flowTTL + time.Second)
	if !s.spend("b", c.Now().Add(flowTTL)) || len(s.m) != 1 {
		t.Fatalf("expired nonces kept: %d", len(s.m))
	}
}
