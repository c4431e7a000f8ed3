package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/store/bolt"
)

// TestBenchSeed seeds a data directory, reopens its file and finds the
// sessions spread over the users; a file held open is refused.
func TestBenchSeed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, errOut bytes.Buffer
	e := env{getenv: func(string) string { return "" }, stdout: &out, stderr: &errOut}
	if err := benchCmd(t.Context(), []string{"seed", "--data", dir, "--sessions", "30", "--users", "3"}, e); err != nil {
		t.Fatalf("seed: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "seeded 3 users and 30 sessions") {
		t.Errorf("output %q", out.String())
	}
	db, err := bolt.Open(filepath.Join(dir, "assent.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The users are named after the run; find them through the sessions'
	// expiry sweep: none has expired, all 30 expire within a day.
	ctx := context.Background()
	if n, err := db.DeleteExpiredSessions(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("expired now: %d, %v", n, err)
	}
	// While the file is open, seeding is refused with a clear message.
	err = benchCmd(t.Context(), []string{"seed", "--data", dir, "--sessions", "1", "--users", "1"}, e)
	if err == nil || !strings.Contains(err.Error(), "stop the server first") {
		t.Errorf("seeding an open file: %v", err)
	}
	if n, err := db.DeleteExpiredSessions(ctx, time.Now().Add(13*time.Hour)); err != nil || n != 30 {
		t.Fatalf("sessions expired in 13 hours: %d, %v; want 30", n, err)
	}
	db.Close()
	if err := benchCmd(t.Context(), []string{"seed", "--data", dir, "--users", "0"}, e); !errors.Is(err, errUsage) {
		t.Errorf("--users 0: %v", err)
	}
}
