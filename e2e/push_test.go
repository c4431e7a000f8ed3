package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	codeRE   = regexp.MustCompile(`Enrollment code: (\S+)`)
	numberRE = regexp.MustCompile(`class="push-number"[^>]*><strong>(\d+)</strong>`)
)

// TestDeviceCommands enrolls the reference app device from the command
// line (operator code, activate), signs in in a browser, and approves with
// `assent device run --auto approve --pick N`.
func TestDeviceCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	if out, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, errOut, code := s.cli("", "device", "enroll", "--user", "ada@example.com")
	m := codeRE.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "█") {
		t.Fatalf("device enroll: %d %q %q", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", file, "--name", "Ada's terminal"); code != 0 || !strings.Contains(out, "Enrolled as Ada's terminal") {
		t.Fatalf("device activate: %d %q %q", code, out, errOut)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("device file: %v %v", st, err)
	}
	if _, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", file+"2"); code != 1 || !strings.Contains(errOut, "invalid_enrollment_code") {
		t.Errorf("code used twice: %d %q", code, errOut)
	}

	c := newClient(t, s.url)
	if status, body := c.submit("/signin", "/signin", url.Values{"email": {"ada@example.com"}, "password": {"a long passphrase"}}); status != 303 {
		t.Fatalf("sign-in: %d %s", status, tail(body, 500))
	}
	status, body := c.submit("/signin/factor", "/signin/factor/push", url.Values{})
	n := numberRE.FindStringSubmatch(body)
	if status != 200 || n == nil {
		t.Fatalf("approve in the app: %d %s", status, tail(body, 800))
	}
	out, errOut, code = s.cli("", "device", "run", "--device-file", file, "--auto", "approve", "--pick", n[1], "--once")
	if code != 0 || !strings.Contains(out, "Sent: approved.") || !strings.Contains(out, "Sign in to") {
		t.Fatalf("device run: %d %q %q", code, out, errOut)
	}
	if status, body := c.submit("/signin/factor", "/signin/factor/push/finish", url.Values{}); status != 303 {
		t.Fatalf("finish: %d %s", status, tail(body, 500))
	}
	if status, _ := c.get("/account"); status != 200 {
		t.Fatalf("account after approval: %d", status)
	}
	if ev := lastAudit(t, s, "signin.succeeded"); ev.Details["amr"] != "pwd swk mca mfa" {
		t.Errorf("signin.succeeded: %+v", ev)
	}
}
