package e2e

import (
	"bytes"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/tui"
)

// TestConsoleLiveAndLock runs the operator console against a real assentd:
// a sign-in in the browser shows up live with its risk decision and
// reasons, and locking the user from the console makes the next sign-in
// fail.
func TestConsoleLiveAndLock(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	cl := adminAPI(t, s)
	const pw = "correct horse battery staple"
	if _, err := cl.CreateUser(t.Context(), adminclient.NewUser{Email: "ada@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}

	tm := openConsole(t, tui.Options{API: cl, Server: s.url})
	waitFor := screenWaiter(t, tm, 15*time.Second)
	waitFor("● live", "user.created")

	if post, account := signIn(t, s.url, "ada@example.com", pw); post != 303 || account != 200 {
		t.Fatalf("sign-in: post %d, account %d", post, account)
	}
	// The new browser is an unknown device: the engine says why.
	waitFor("risk.assessed", "unknown_device", "signin.succeeded")

	// The sign-in's time is measured, and nobody waits for the app.
	tm.Type("4")
	waitFor("Risk policy assent-default", "p50 time")
	tm.Type("2")
	waitFor("Waiting for the app: 0", "none waiting")

	// Look Ada up: her sign-in is listed. Sign her out everywhere, then
	// lock her, confirming each with y.
	tm.Type("3/ada@example.com")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor("verified true", "Recent sign-ins", "127.0.0.1")
	tm.Type("o")
	waitFor("Sign ada@example.com out everywhere")
	tm.Type("y")
	waitFor("1 sessions ended")
	tm.Type("l")
	waitFor("Lock ada@example.com")
	tm.Type("y")
	waitFor("lock ada@example.com: done", "LOCKED")

	if post, account := signIn(t, s.url, "ada@example.com", pw); post == 303 || account == 200 {
		t.Fatalf("sign-in after the console locked the user: post %d, account %d", post, account)
	}
	tm.Type("1")
	waitFor("user.locked")

	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	evs, err := cl.Audit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var locked, signedOut bool
	for _, e := range evs {
		locked = locked || (e.Kind == "user.locked" && e.Actor == "admin")
		signedOut = signedOut || (e.Kind == "user.signed_out_everywhere" && e.Actor == "admin" && e.Details["sessions"] == "1")
	}
	if !locked || !signedOut {
		t.Errorf("the lock (%v) and the sign-out (%v) are not both in the audit log with the admin as actor", locked, signedOut)
	}
}

// TestConsoleSurvivesRestart restarts assentd under an open console: the
// console says it is offline, reconnects by itself and shows the events
// that follow, and the server stops promptly despite the open stream.
func TestConsoleSurvivesRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	cl := adminAPI(t, s)
	tm := openConsole(t, tui.Options{API: cl, Server: s.url})
	waitFor := screenWaiter(t, tm, 20*time.Second)
	waitFor("● live")

	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.log.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping with a console attached took %v", d)
	}
	if strings.Contains(s.log.String(), "drain incomplete") {
		t.Errorf("shutdown waited for the stream:\n%s", s.log.String())
	}
	waitFor("offline")

	s = startServerOn(t, data, s.addr)
	waitFor("● live")
	if _, err := cl.CreateUser(t.Context(), adminclient.NewUser{Email: "after@example.com"}); err != nil {
		t.Fatal(err)
	}
	waitFor("user.created")
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// TestConsoleApprovals issues an app enrollment code from the console,
// enrolls the reference device with it, and watches a sign-in's approval
// request wait in the Approvals tab until the device denies it with
// "this wasn't me", which the tab then shows as a report.
func TestConsoleApprovals(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	cl := adminAPI(t, s)
	const pw = "correct horse battery staple"
	if _, err := cl.CreateUser(t.Context(), adminclient.NewUser{Email: "ada@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	tm := openConsole(t, tui.Options{API: cl, Server: s.url, StatsEvery: 200 * time.Millisecond})
	var code string
	codeRE := regexp.MustCompile(`enrollment code for ada@example\.com: (\S+) \(once`)
	waitFor := func(what ...string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			if m := codeRE.FindSubmatch(b); m != nil {
				code = string(m[1])
			}
			for _, w := range what {
				if !bytes.Contains(b, []byte(w)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	waitFor("● live")
	tm.Type("3/ada@example.com")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitFor("verified true")
	tm.Type("e")
	waitFor("Issue a new app enrollment code for ada@example.com")
	tm.Type("y")
	waitFor("(once, until")
	if code == "" {
		t.Fatal("no enrollment code on the screen")
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, status := s.cli("", "device", "activate", code, "--device-file", file, "--name", "Ada's phone"); status != 0 {
		t.Fatalf("device activate: %d %q %q", status, out, errOut)
	}
	tm.Type("r")
	waitFor("app device Ada's phone")

	c := newClient(t, s.url)
	if status, body := c.submit("/signin", "/signin", url.Values{"email": {"ada@example.com"}, "password": {pw}}); status != 303 {
		t.Fatalf("sign-in: %d %s", status, tail(body, 500))
	}
	if status, body := c.submit("/signin/factor", "/signin/factor/push", url.Values{}); status != 200 {
		t.Fatalf("approve in the app: %d %s", status, tail(body, 800))
	}
	tm.Type("2")
	waitFor("Waiting for the app: 1", "ada@example.com")
	if out, errOut, status := s.cli("", "device", "run", "--device-file", file, "--auto", "deny", "--not-me", "--once"); status != 0 {
		t.Fatalf("device run: %d %q %q", status, out, errOut)
	}
	waitFor("REPORTED: this wasn't me", "Waiting for the app: 0")
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}
