package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPushLockSurvivesRestart locks a user's push approvals by three
// denials from the reference app device, restarts assentd on the same data
// directory, and finds the lock still refusing the next approval request,
// until `assent device unlock` ends it.
func TestPushLockSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	const email, pw = "cy@example.com", "a long passphrase"
	file := userWithApp(t, s, email, pw, "Cy's phone")

	for i := range 3 {
		if status, body := askPush(t, s, email, pw); status != 200 || numberRE.FindStringSubmatch(body) == nil {
			t.Fatalf("approval request %d: %d %s", i, status, tail(body, 800))
		}
		out, errOut, code := s.cli("", "device", "run", "--device-file", file, "--auto", "deny", "--once")
		if code != 0 || !strings.Contains(out, "Sent: denied.") {
			t.Fatalf("deny %d: %d %q %q", i, code, out, errOut)
		}
	}
	if status, body := askPush(t, s, email, pw); status != 429 {
		t.Fatalf("approval request after three denials: %d %s, want 429", status, tail(body, 500))
	}
	if ev := lastAudit(t, s, "push.locked"); ev.Details["until"] == "" {
		t.Fatalf("push.locked: %+v", ev)
	}

	s = restart(t, s)
	if out, errOut, code := s.cli("", "device", "list", "--user", email); code != 0 || !strings.Contains(out, "Push approvals are locked") {
		t.Fatalf("device list after restart: %d %q %q", code, out, errOut)
	}
	if status, body := askPush(t, s, email, pw); status != 429 {
		t.Fatalf("approval request after restart: %d %s, want 429", status, tail(body, 800))
	}

	if out, errOut, code := s.cli("", "device", "unlock", "--user", email); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("device unlock: %d %q %q", code, out, errOut)
	}
	lastAudit(t, s, "push.unlocked")
	if status, body := askPush(t, s, email, pw); status != 200 || numberRE.FindStringSubmatch(body) == nil {
		t.Fatalf("approval request after unlock: %d %s", status, tail(body, 800))
	}
	// The lifted lock stays lifted across the next restart.
	s = restart(t, s)
	if out, _, code := s.cli("", "device", "list", "--user", email); code != 0 || strings.Contains(out, "locked") {
		t.Errorf("device list after unlock and restart: %d %q", code, out)
	}
}
