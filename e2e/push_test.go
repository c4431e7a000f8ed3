package e2e

import (
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	codeRE   = regexp.MustCompile(`Enrollment code: (\S+)`)
	numberRE = regexp.MustCompile(`class="push-number"[^>]*><strong>(\d+)</strong>`)
)

// TestDeviceCommands enrolls the reference app device from the command
// line (operator code, activate), signs in in a browser, and approves with
// `assent device run --auto approve --pick N`.
func TestDeviceCommands(t *testing.T) {
	t.Parallel()
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

var cardNumbersRE = regexp.MustCompile(`Numbers:\s+(\d+)\s+(\d+)\s+(\d+)`)

// TestDeviceInteractive approves a sign-in the way a person does in the
// reference app: the card appears, → then the number's key and Enter.
// Then the operator lists, renames and revokes the device.
func TestDeviceInteractive(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	if out, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "bea@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, _, _ := s.cli("", "device", "enroll", "--user", "bea@example.com")
	m := codeRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("device enroll: %q", out)
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", file, "--name", "Bea's phone"); code != 0 {
		t.Fatalf("device activate: %d %q %q", code, out, errOut)
	}

	cmd := exec.CommandContext(t.Context(), filepath.Join(bin, "assent"), "device", "run", "--device-file", file)
	cmd.Env = append(os.Environ(), "ASSENT_SERVER="+s.url)
	keys, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	screen := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = screen, screen
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if v := screen.String(); ok(v) {
				return v
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("waiting for %s; the screen:\n%s", what, screen.String())
		return ""
	}
	waitFor("the idle screen", func(v string) bool { return strings.Contains(v, "No requests.") })

	c := newClient(t, s.url)
	if status, body := c.submit("/signin", "/signin", url.Values{"email": {"bea@example.com"}, "password": {"a long passphrase"}}); status != 303 {
		t.Fatalf("sign-in: %d %s", status, tail(body, 500))
	}
	status, body := c.submit("/signin/factor", "/signin/factor/push", url.Values{})
	n := numberRE.FindStringSubmatch(body)
	if status != 200 || n == nil {
		t.Fatalf("approve in the app: %d %s", status, tail(body, 800))
	}
	v := waitFor("the card", func(v string) bool { return cardNumbersRE.MatchString(v) && strings.Contains(v, "Sign in to") })
	choices := cardNumbersRE.FindStringSubmatch(v)
	key := ""
	for i, c := range choices[1:] {
		if c == n[1] {
			key = strconv.Itoa(i + 1)
		}
	}
	if key == "" {
		t.Fatalf("the card's numbers %v lack the browser's %s", choices[1:], n[1])
	}
	for _, k := range []string{"\x1b[C", key, "\r"} { // → , the number, Enter
		if _, err := io.WriteString(keys, k); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	waitFor("the server's answer", func(v string) bool { return strings.Contains(v, "Sent: approved.") })
	if status, body := c.submit("/signin/factor", "/signin/factor/push/finish", url.Values{}); status != 303 {
		t.Fatalf("finish: %d %s", status, tail(body, 500))
	}
	io.WriteString(keys, "q")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("device run: %v\n%s", err, screen.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not quit")
	}

	// The operator's view.
	out, errOut, code := s.cli("", "device", "list", "--user", "bea@example.com")
	dev := regexp.MustCompile(`(app_\S+)\s+Bea's phone\s+cli`).FindStringSubmatch(out)
	if code != 0 || dev == nil {
		t.Fatalf("device list: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := s.cli("", "device", "rename", "--user", "bea@example.com", dev[1], "Bea's work phone"); code != 0 || !strings.Contains(out, `"Bea's work phone"`) {
		t.Fatalf("device rename: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := s.cli("", "device", "revoke", "--user", "bea@example.com", dev[1]); code != 0 {
		t.Fatalf("device revoke: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := s.cli("", "device", "revoke", "--user", "bea@example.com", dev[1]); code != 1 || !strings.Contains(errOut, "no app device") {
		t.Errorf("second revoke: %d %q", code, errOut)
	}
	if out, _, code := s.cli("", "device", "list", "--user", "bea@example.com"); code != 0 || !strings.Contains(out, "no app devices") {
		t.Errorf("list after revoke: %d %q", code, out)
	}
	if _, errOut, code := s.cli("", "device", "unlock", "--user", "bea@example.com"); code != 1 || !strings.Contains(errOut, "not locked") {
		t.Errorf("unlock without a lock: %d %q", code, errOut)
	}
}
