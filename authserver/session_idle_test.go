package authserver

import (
	"net/http"
	"testing"
	"time"
)

// TestSessionIdleTimeout: a session in use stays alive past the idle
// timeout, because each use (recorded to the minute) moves it on; one
// left alone for the idle timeout is over, though its absolute lifetime
// is not.
func TestSessionIdleTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SessionIdle = 10 * time.Minute })
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	for range 3 {
		e.clock.Advance(8 * time.Minute)
		if r := b.get("/account"); r.status != http.StatusOK {
			t.Fatalf("session in use ended after %v: %d", 8*time.Minute, r.status)
		}
	}
	e.clock.Advance(9*time.Minute + 59*time.Second)
	if r := b.get("/account"); r.status != http.StatusOK {
		t.Fatalf("session ended before the idle timeout: %d", r.status)
	}
	e.clock.Advance(10 * time.Minute)
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("idle session still works: %d", r.status)
	}
}
