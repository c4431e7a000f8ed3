package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDeviceEnrollByMail: `assent device enroll --mail` sends the code to
// the user and never prints it; the mailed code enrolls a device. The
// upstream-link commands answer for a user without links.
func TestDeviceEnrollByMail(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	if _, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errOut)
	}
	out, errOut, code := s.cli("", "device", "enroll", "--user", "ada@example.com", "--mail")
	if code != 0 || !strings.Contains(out, "Enrollment code mailed to ada@example.com") {
		t.Fatalf("device enroll --mail: %d %q %q", code, out, errOut)
	}
	codeRE := regexp.MustCompile(`\b[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}\b`)
	if codeRE.MatchString(out) {
		t.Errorf("the operator saw the code: %q", out)
	}
	files := emlFiles(t, filepath.Join(data, "outbox"), 1)
	b, _ := os.ReadFile(files[0])
	text := textPart(t, b)
	enrollCode := codeRE.FindString(text)
	if enrollCode == "" {
		t.Fatalf("no code in the mail:\n%s", text)
	}
	dev := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, code := s.cli("", "device", "activate", enrollCode, "--device-file", dev, "--name", "Ada's phone"); code != 0 {
		t.Fatalf("activate with the mailed code: %q %q", out, errOut)
	}

	if out, _, code := s.cli("", "user", "links", "ada@example.com"); code != 0 || !strings.Contains(out, "no linked upstream accounts") {
		t.Errorf("user links: %d %q", code, out)
	}
	if _, errOut, code := s.cli("", "user", "unlink", "ada@example.com", "bogus"); code != 1 || !strings.Contains(errOut, "no linked account bogus") {
		t.Errorf("user unlink bogus: %d %q", code, errOut)
	}
}
