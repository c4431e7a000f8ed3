package main

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
)

// The interactive reference app: each request is a card; arrow right
// approves (then the person picks the number the browser shows), arrow
// left denies (plainly or as "this wasn't me"). Update is a pure function
// of the model and the message; the one effect, sending a reply, is the
// reply function the model is given, run as a command.

// cardMode is what the keys do on the current card.
type cardMode int

const (
	modeCard cardMode = iota // ← deny, → approve
	modePick                 // ←/→ or 1-3 select, enter approves, esc back
	modeDeny                 // ↑/↓ or d/x select, enter denies, esc back
)

// serverMsg carries a message from the server into the model.
type serverMsg push.Message

// tickMsg redraws the countdown and drops expired cards.
type tickMsg time.Time

// cardModel is the device app's screen.
type cardModel struct {
	deviceID string
	queue    []push.RequestView
	mode     cardMode
	pick     int  // the selected choice in modePick
	notMe    bool // the selected option in modeDeny
	// sent is the request whose answer awaits the server's result; its
	// card stays, without keys, until the result.
	sent   string
	status string
	now    func() time.Time
	reply  func(deviceclient.Reply) tea.Cmd
	width  int
}

func newCardModel(deviceID string, now func() time.Time, reply func(deviceclient.Reply) tea.Cmd) cardModel {
	return cardModel{deviceID: deviceID, now: now, reply: reply, width: 60,
		status: "Connected; waiting for requests. q quits."}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m cardModel) Init() tea.Cmd { return tick() }

func (m cardModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width = min(max(msg.Width-2, 40), 72)
	case tickMsg:
		m = m.dropExpired()
		return m, tick()
	case serverMsg:
		return m.onServer(push.Message(msg)), nil
	case tea.KeyMsg:
		return m.onKey(msg)
	}
	return m, nil
}

func (m cardModel) onServer(s push.Message) cardModel {
	switch s.Type {
	case push.MsgRequest:
		if s.Request == nil {
			return m
		}
		for _, q := range m.queue {
			if q.ID == s.Request.ID {
				return m // resent on reconnect
			}
		}
		m.queue = append(m.queue, *s.Request)
		if len(m.queue) == 1 {
			m.mode = modeCard
		}
		m.status = "New request."
	case push.MsgResolved:
		if m.remove(s.RequestID) {
			m.status = fmt.Sprintf("The request was %s on another device.", s.Status)
		}
	case push.MsgResult:
		if s.RequestID == m.sent {
			m.sent = ""
		}
		switch {
		case s.OK:
			m.remove(s.RequestID)
			m.status = fmt.Sprintf("Sent: %s.", s.Status)
		case s.Reason == "wrong_number":
			m.status = "Refused by the server: wrong_number. Check the number in the browser."
		default:
			m.remove(s.RequestID)
			m.status = fmt.Sprintf("Refused by the server: %s.", s.Reason)
		}
	case push.MsgError:
		m.status = fmt.Sprintf("Connection lost (%s); reconnecting.", s.Reason)
	}
	return m
}

// remove drops the card with id; it reports whether there was one.
func (m *cardModel) remove(id string) bool {
	for i, q := range m.queue {
		if q.ID == id {
			m.queue = append(m.queue[:i:i], m.queue[i+1:]...)
			if i == 0 {
				m.mode, m.pick, m.notMe = modeCard, 0, false
			}
			if id == m.sent {
				m.sent = ""
			}
			return true
		}
	}
	return false
}

func (m cardModel) dropExpired() cardModel {
	now := m.now()
	for len(m.queue) > 0 && !now.Before(m.queue[0].ExpiresAt) {
		m.remove(m.queue[0].ID)
		m.status = "The request expired."
	}
	return m
}

func (m cardModel) onKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "ctrl+c", "q":
		return m, tea.Quit
	}
	if len(m.queue) == 0 || m.sent != "" {
		return m, nil
	}
	req := m.queue[0]
	switch m.mode {
	case modeCard:
		switch k.String() {
		case "right", "l":
			if len(req.Choices) == 0 {
				return m.send(deviceclient.Answer{Approve: true})
			}
			m.mode, m.pick = modePick, 0
		case "left", "h":
			m.mode, m.notMe = modeDeny, false
		case "1", "2", "3":
			if i := int(k.String()[0] - '1'); i < len(req.Choices) {
				m.mode, m.pick = modePick, i
			}
		}
	case modePick:
		switch s := k.String(); s {
		case "left", "h":
			m.pick = (m.pick + len(req.Choices) - 1) % len(req.Choices)
		case "right", "l", "tab":
			m.pick = (m.pick + 1) % len(req.Choices)
		case "1", "2", "3":
			if i := int(s[0] - '1'); i < len(req.Choices) {
				m.pick = i
			}
		case "enter", " ":
			return m.send(deviceclient.Answer{Approve: true, Number: req.Choices[m.pick]})
		case "esc":
			m.mode = modeCard
		}
	case modeDeny:
		switch k.String() {
		case "up", "down", "tab", "left", "right":
			m.notMe = !m.notMe
		case "d":
			m.notMe = false
		case "x":
			m.notMe = true
		case "enter", " ":
			return m.send(deviceclient.Answer{NotMe: m.notMe})
		case "esc":
			m.mode = modeCard
		}
	}
	return m, nil
}

// send answers the current card; it stays until the server's result.
func (m cardModel) send(a deviceclient.Answer) (tea.Model, tea.Cmd) {
	req := m.queue[0]
	m.mode = modeCard
	switch {
	case a.Approve:
		m.status = "Approving…"
	case a.NotMe:
		m.status = "Reporting: this wasn't me…"
	default:
		m.status = "Denying…"
	}
	m.sent = req.ID
	return m, m.reply(deviceclient.Reply{Request: req, Answer: a})
}

func (m cardModel) View() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Assent device %s\n\n", m.deviceID)
	if len(m.queue) == 0 {
		b.WriteString("No requests.\n")
	} else {
		b.WriteString(m.card(m.queue[0]))
		if n := len(m.queue) - 1; n > 0 {
			fmt.Fprintf(&b, "%d more waiting.\n", n)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", m.status)
	return b.String()
}

func (m cardModel) card(req push.RequestView) string {
	w := m.width
	var lines []string
	add := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	if req.Kind == "payment" {
		add("Approve a payment for %s?", req.RPName)
		add("")
		add("Amount:  %s %s", req.Amount, req.Currency)
		add("Payee:   %s", req.Payee)
	} else {
		add("Sign in to %s?", req.RPName)
		add("")
	}
	where := strings.TrimSpace(req.Country + " " + req.IP)
	if where == "" {
		where = "unknown"
	}
	add("From:    %s", where)
	if req.Browser != "" {
		add("Browser: %s", clipText(req.Browser, w-13))
	}
	left := max(0, int(req.ExpiresAt.Sub(m.now()).Seconds()))
	add("Expires: in %d s", left)
	add("")
	switch m.mode {
	case modeCard:
		if m.sent == req.ID {
			add("Sent; waiting for the server.")
			break
		}
		if len(req.Choices) > 0 {
			add("Numbers: %s", numbersLine(req.Choices, -1))
			add("")
		}
		add("←  deny                          approve  →")
	case modePick:
		add("Pick the number the browser shows:")
		add("   %s", numbersLine(req.Choices, m.pick))
		add("")
		add("←/→ or 1-3 select · enter approves · esc back")
	case modeDeny:
		add("%s Deny", radio(!m.notMe))
		add("%s This wasn't me (report it)", radio(m.notMe))
		add("")
		add("↑/↓ select · enter denies · esc back")
	}
	var b strings.Builder
	b.WriteString("┌" + strings.Repeat("─", w) + "┐\n")
	for _, l := range lines {
		l = clipText(l, w-2)
		pad := max(0, w-2-len([]rune(l)))
		b.WriteString("│ " + l + strings.Repeat(" ", pad) + " │\n")
	}
	b.WriteString("└" + strings.Repeat("─", w) + "┘\n")
	return b.String()
}

func numbersLine(choices []int, sel int) string {
	parts := make([]string, len(choices))
	for i, c := range choices {
		if i == sel {
			parts[i] = fmt.Sprintf("[%d]", c)
		} else {
			parts[i] = fmt.Sprintf(" %d ", c)
		}
	}
	return strings.Join(parts, "   ")
}

func radio(on bool) string {
	if on {
		return "(•)"
	}
	return "( )"
}
