package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var cardNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testRequests() (signIn, payment push.RequestView) {
	signIn = push.RequestView{ID: "pr_signin", Kind: "signin", RPName: "Assent", IP: "192.0.2.10", Country: "FI",
		Browser: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0 with a very long tail", Choices: []int{17, 42, 83},
		ExpiresAt: cardNow.Add(90 * time.Second)}
	payment = push.RequestView{ID: "pr_pay", Kind: "payment", RPName: "Example Bank", IP: "198.51.100.7", Country: "SE",
		Amount: "1299.00", Currency: "EUR", Payee: "Example Shop Oy", Choices: []int{55, 21, 64}, ExpiresAt: cardNow.Add(120 * time.Second)}
	return
}

// harness drives the model as bubbletea would, running the commands that
// send replies and recording them.
type harness struct {
	t       *testing.T
	m       cardModel
	now     time.Time
	replies []deviceclient.Reply
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: cardNow}
	h.m = newCardModel("app_test", func() time.Time { return h.now }, func(r deviceclient.Reply) tea.Cmd {
		return func() tea.Msg { h.replies = append(h.replies, r); return nil }
	})
	return h
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	m, cmd := h.m.Update(msg)
	h.m = m.(cardModel)
	if cmd != nil {
		if _, isTick := msg.(tickMsg); !isTick {
			cmd()
		}
	}
}

func (h *harness) keys(ks ...string) {
	for _, k := range ks {
		var msg tea.KeyMsg
		switch k {
		case "right":
			msg = tea.KeyMsg{Type: tea.KeyRight}
		case "left":
			msg = tea.KeyMsg{Type: tea.KeyLeft}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		h.send(msg)
	}
}

func (h *harness) golden(name string) {
	h.t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got := h.m.View()
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		h.t.Errorf("%s view:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestCardApproveWithNumber(t *testing.T) {
	h := newHarness(t)
	signIn, _ := testRequests()
	h.golden("device_idle")
	h.send(serverMsg{Type: push.MsgRequest, Request: &signIn})
	h.send(serverMsg{Type: push.MsgRequest, Request: &signIn}) // resent on reconnect: one card
	h.golden("device_signin")
	h.keys("right")
	h.golden("device_pick")
	h.keys("right", "right", "left") // 42
	if len(h.replies) != 0 {
		t.Fatalf("replied before enter: %+v", h.replies)
	}
	h.keys("enter")
	if len(h.replies) != 1 || h.replies[0].Request.ID != "pr_signin" || h.replies[0].Answer != (deviceclient.Answer{Approve: true, Number: 42}) {
		t.Fatalf("replies %+v", h.replies)
	}
	// Keys do nothing while the server has not answered.
	h.keys("left", "enter")
	if len(h.replies) != 1 {
		t.Fatalf("a second reply while waiting: %+v", h.replies)
	}
	h.send(serverMsg{Type: push.MsgResult, RequestID: "pr_signin", OK: true, Status: "approved"})
	h.golden("device_approved")
}

func TestCardWrongNumberKeepsCard(t *testing.T) {
	h := newHarness(t)
	signIn, _ := testRequests()
	h.send(serverMsg{Type: push.MsgRequest, Request: &signIn})
	h.keys("3", "enter") // 1-3 pick directly
	if len(h.replies) != 1 || h.replies[0].Answer.Number != 83 {
		t.Fatalf("replies %+v", h.replies)
	}
	h.send(serverMsg{Type: push.MsgResult, RequestID: "pr_signin", Reason: "wrong_number"})
	if len(h.m.queue) != 1 || h.m.sent != "" {
		t.Fatalf("after a wrong number: queue %d sent %q", len(h.m.queue), h.m.sent)
	}
	h.keys("right", "1", "enter")
	if len(h.replies) != 2 || h.replies[1].Answer.Number != 17 {
		t.Fatalf("retry: %+v", h.replies)
	}
}

func TestCardDenyNotMe(t *testing.T) {
	h := newHarness(t)
	_, payment := testRequests()
	h.send(serverMsg{Type: push.MsgRequest, Request: &payment})
	h.golden("device_payment")
	h.keys("left")
	h.keys("down")
	h.golden("device_deny")
	h.keys("esc", "left", "x", "enter")
	if len(h.replies) != 1 || h.replies[0].Answer != (deviceclient.Answer{NotMe: true}) || h.replies[0].Request.Payee != "Example Shop Oy" {
		t.Fatalf("replies %+v", h.replies)
	}
	h.send(serverMsg{Type: push.MsgResult, RequestID: "pr_pay", OK: true, Status: "denied"})
	// A plain denial.
	payment.ID = "pr_pay2"
	h.send(serverMsg{Type: push.MsgRequest, Request: &payment})
	h.keys("left", "enter")
	if len(h.replies) != 2 || h.replies[1].Answer != (deviceclient.Answer{}) {
		t.Fatalf("plain deny: %+v", h.replies)
	}
}

func TestCardQueueResolvedAndExpired(t *testing.T) {
	h := newHarness(t)
	signIn, payment := testRequests()
	h.send(serverMsg{Type: push.MsgRequest, Request: &signIn})
	h.send(serverMsg{Type: push.MsgRequest, Request: &payment})
	if v := h.m.View(); !contains(v, "1 more waiting.") || !contains(v, "Sign in to Assent?") {
		t.Fatalf("queue view:\n%s", v)
	}
	h.keys("right") // into pick mode on the first card
	h.send(serverMsg{Type: push.MsgResolved, RequestID: "pr_signin", Status: "approved"})
	if h.m.mode != modeCard || len(h.m.queue) != 1 || !contains(h.m.View(), "approved on another device") {
		t.Fatalf("after resolved elsewhere:\n%s", h.m.View())
	}
	h.now = payment.ExpiresAt
	h.send(tickMsg(h.now))
	if len(h.m.queue) != 0 || !contains(h.m.View(), "The request expired.") {
		t.Fatalf("after expiry:\n%s", h.m.View())
	}
	// Without number matching, → approves at once.
	plain := push.RequestView{ID: "pr_plain", Kind: "signin", RPName: "Assent", ExpiresAt: h.now.Add(time.Minute)}
	h.send(serverMsg{Type: push.MsgRequest, Request: &plain})
	h.keys("right")
	if len(h.replies) != 1 || h.replies[0].Answer != (deviceclient.Answer{Approve: true}) {
		t.Fatalf("plain approve: %+v", h.replies)
	}
	if _, cmd := h.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")}); cmd == nil {
		t.Error("q does not quit")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
