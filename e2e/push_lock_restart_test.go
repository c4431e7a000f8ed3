package e2e

import (
	"net/url"
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
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	const email, pw = "cy@example.com", "a long passphrase"
	if out, errOut, code := s.cli(pw+"\n", "user", "create", "--email", email, "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, _, _ := s.cli("", "device", "enroll", "--user", email)
	m := codeRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("device enroll: %q", out)
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", file, "--name", "Cy's phone"); code != 0 {
		t.Fatalf("device activate: %d %q %q", code, out, errOut)
	}

	// askPush signs in with the password in a new browser and asks for an
	// approval in the app; it returns the page's status and body.
	askPush := func(s *server) (int, string) {
		t.Helper()
		c := newClient(t, s.url)
		if status, body := c.submit("/signin", "/signin", url.Values{"email": {email}, "password": {pw}}); status != 303 {
			t.Fatalf("sign-in: %d %s", status, tail(body, 500))
		}
		return c.submit("/signin/factor", "/signin/factor/push", url.Values{})
	}
	for i := range 3 {
		if status, body := askPush(s); status != 200 || numberRE.FindStringSubmatch(body) == nil {
			t.Fatalf("approval request %d: %d %s", i, status, tail(body, 800))
		}
		out, errOut, code := s.cli("", "device", "run", "--device-file", file, "--auto", "deny", "--once")
		if code != 0 || !strings.Contains(out, "Sent: denied.") {
			t.Fatalf("deny %d: %d %q %q", i, code, out, errOut)
		}
	}
	if status, body := askPush(s); status != 429 {
		t.Fatalf("approval request after three denials: %d %s, want 429", status, tail(body, 500))
	}
	if ev := lastAudit(t, s, "push.locked"); ev.Details["until"] == "" {
		t.Fatalf("push.locked: %+v", ev)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.log.String())
	}
	s = startServer(t, data)
	if out, errOut, code := s.cli("", "device", "list", "--user", email); code != 0 || !strings.Contains(out, "Push approvals are locked") {
		t.Fatalf("device list after restart: %d %q %q", code, out, errOut)
	}
	if status, body := askPush(s); status != 429 {
		t.Fatalf("approval request after restart: %d %s, want 429", status, tail(body, 800))
	}

	if out, errOut, code := s.cli("", "device", "unlock", "--user", email); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("device unlock: %d %q %q", code, out, errOut)
	}
	lastAudit(t, s, "push.unlocked")
	if status, body := askPush(s); status != 200 || numberRE.FindStringSubmatch(body) == nil {
		t.Fatalf("approval request after unlock: %d %s", status, tail(body, 800))
	}
	// The lifted lock stays lifted across the next restart.
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.log.String())
	}
	s = startServer(t, data)
	if out, _, code := s.cli("", "device", "list", "--user", email); code != 0 || strings.Contains(out, "locked") {
		t.Errorf("device list after unlock and restart: %d %q", code, out)
	}
}
