package tui

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/assent-auth/assent/adminclient"
)

// Options configure a console Model.
type Options struct {
	API API
	// Server is shown in the header.
	Server string
	// Renderer draws the styles; lipgloss.DefaultRenderer() when nil. A
	// renderer on a non-terminal writer draws without colour.
	Renderer *lipgloss.Renderer
	// Location shows event times (time.Local when nil).
	Location *time.Location
	// StatsEvery is how often the overview refreshes (2 s when zero).
	StatsEvery time.Duration
}

type tab int

const (
	tabLive tab = iota
	tabApprovals
	tabUsers
	tabOverview
)

var tabNames = []string{"Live", "Approvals", "Users", "Overview"}

type connState int

const (
	connConnecting connState = iota
	connLive
	connOffline
)

// maxEvents bounds the events the Live tab keeps; counts stay exact.
const maxEvents = 1000

// Model is the console's state. Update is a pure function of the model
// and a message: all I/O happens in the commands it returns.
type Model struct {
	// ctx is the program's lifetime, handed to the commands it starts.
	ctx      context.Context
	api      API
	server   string
	st       styles
	loc      *time.Location
	statsDur time.Duration

	width, height int
	tab           tab
	help          bool

	// Connection.
	conn     connState
	gen      int
	attempt  int
	retryIn  time.Duration
	lastErr  string
	lastSeq  uint64
	received int // events received since start, exact

	// Live.
	events    []liveEvent    // oldest first, at most maxEvents: the tail of buf
	buf       []liveEvent    // up to 2*maxEvents, compacted when full
	decisions map[string]int // risk decisions seen, exact
	paused    bool
	frozen    []liveEvent // what the paused view shows
	held      int         // events that arrived while paused
	filter    textinput.Model
	filtering bool
	cursor    int // row in the visible list, 0 = newest
	detail    *adminclient.AuditEvent

	// Users.
	search    textinput.Model
	searching bool
	user      *userMsg
	userErr   string
	factorSel int
	confirm   *pendingAction
	notice    string

	// Approvals.
	push    *adminclient.PushOverview
	pushErr string
	pushAt  time.Time // when push arrived
	now     time.Time // the clock, moved by clockMsg
	pushSel int

	// Overview.
	stats    *adminclient.Stats
	statsErr string
	policy   string
}

// liveEvent is an event with its text for the filter, in lower case,
// made once when it arrives rather than at every redraw.
type liveEvent struct {
	adminclient.AuditEvent
	text string
}

// pendingAction waits for the operator's y. run returns what to tell
// the operator when it worked.
type pendingAction struct {
	prompt string
	what   string
	run    func(context.Context, API) (string, error)
	// mail, when set, is the alternative the operator picks with m.
	mail func(context.Context, API) (string, error)
}

// New returns the console's model.
func New(ctx context.Context, o Options) Model {
	r := o.Renderer
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	if o.StatsEvery <= 0 {
		o.StatsEvery = 2 * time.Second
	}
	f := textinput.New()
	f.Prompt = "/"
	f.Placeholder = "kind, user, IP, country, decision or reason"
	f.CharLimit = 100
	s := textinput.New()
	s.Prompt = "e-mail or id: "
	s.CharLimit = 320
	return Model{ctx: ctx, api: o.API, server: o.Server, st: newStyles(r), loc: loc, statsDur: o.StatsEvery,
		width: 80, height: 24, decisions: map[string]int{}, filter: f, search: s, gen: 1}
}

// Init connects and loads the overview.
func (m Model) Init() tea.Cmd {
	return tea.Batch(connect(m.ctx, m.api, m.gen, m.lastSeq, adminclient.EventFilter{}),
		fetchStats(m.ctx, m.api), fetchPolicy(m.ctx, m.api), fetchPush(m.ctx, m.api), tickClock())
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case streamMsg:
		return m.onStream(msg)
	case retryMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		m.conn = connConnecting
		return m, connect(m.ctx, m.api, m.gen, m.lastSeq, adminclient.EventFilter{})
	case statsMsg:
		if msg.err != nil {
			m.statsErr = msg.err.Error()
		} else {
			m.stats, m.statsErr = &msg.stats, ""
		}
		return m, tea.Tick(m.statsDur, func(time.Time) tea.Msg { return statsTickMsg{} })
	case statsTickMsg:
		return m, tea.Batch(fetchStats(m.ctx, m.api), fetchPush(m.ctx, m.api))
	case pushMsg:
		if msg.err != nil {
			m.pushErr = msg.err.Error()
			return m, nil
		}
		m.push, m.pushErr, m.pushAt = &msg.push, "", msg.at
		m.now = msg.at
		m.pushSel = min(m.pushSel, max(len(msg.push.Pending)-1, 0))
		return m, nil
	case clockMsg:
		m.now = time.Time(msg)
		return m, tickClock()
	case policyMsg:
		if msg.err == nil {
			m.policy = msg.policy.Version
		}
		return m, nil
	case userMsg:
		if msg.err != nil {
			m.user, m.userErr = nil, msg.err.Error()
			if adminclient.IsNotFound(msg.err) {
				m.userErr = "no such user: " + msg.query
			}
			return m, nil
		}
		m.user, m.userErr = &msg, ""
		m.factorSel = min(m.factorSel, max(len(msg.factors)-1, 0))
		return m, nil
	case actionMsg:
		if msg.err != nil {
			m.notice = msg.what + " failed: " + msg.err.Error()
			return m, nil
		}
		m.notice = msg.what + ": " + cmp.Or(msg.done, "done")
		if m.user != nil {
			return m, fetchUser(m.ctx, m.api, m.user.user.ID)
		}
		return m, nil
	case tea.KeyMsg:
		return m.onKey(msg)
	}
	return m, nil
}

func (m Model) onStream(msg streamMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.gen {
		return m, nil
	}
	if msg.opened {
		m.conn, m.attempt, m.lastErr = connLive, 0, ""
	}
	for _, it := range msg.items {
		switch it.Type {
		case "audit":
			m.addEvent(it.Event)
		case "heartbeat":
			m.lastSeq = max(m.lastSeq, it.Seq)
		}
	}
	if !msg.closed {
		return m, listen(msg.gen, msg.ch)
	}
	if m.ctx != nil && m.ctx.Err() != nil {
		return m, nil
	}
	m.conn = connOffline
	m.attempt++
	m.gen++
	m.retryIn = backoff(m.attempt)
	switch {
	case msg.err == nil:
		m.lastErr = "stream ended"
	case isUnauthorized(msg.err):
		m.lastErr = "the server refused the admin token"
	default:
		m.lastErr = msg.err.Error()
	}
	gen := m.gen
	return m, tea.Tick(m.retryIn, func(time.Time) tea.Msg { return retryMsg{gen: gen} })
}

func (m *Model) addEvent(e adminclient.AuditEvent) {
	if e.Seq <= m.lastSeq && m.lastSeq != 0 {
		return
	}
	m.lastSeq = e.Seq
	m.received++
	if d := e.Details["decision"]; d != "" && e.Kind == "risk.assessed" {
		m.decisions[d]++
	}
	// Appending to a buffer twice the size and moving the newest back to
	// its start when full costs O(1) per event, where shifting a full
	// window would cost O(maxEvents).
	if len(m.buf) == 2*maxEvents {
		m.buf = m.buf[:copy(m.buf, m.buf[len(m.buf)-maxEvents+1:])]
	}
	if m.buf == nil {
		m.buf = make([]liveEvent, 0, 2*maxEvents)
	}
	m.buf = append(m.buf, liveEvent{e, searchText(e)})
	m.events = m.buf[max(len(m.buf)-maxEvents, 0):]
	if m.paused {
		m.held++
	}
}

// visible returns the Live tab's events, newest first, after the filter.
func (m Model) visible() []adminclient.AuditEvent { return m.visibleUpTo(maxEvents) }

// visibleUpTo returns at most n of the newest visible events: a redraw
// looks at no more than the screen shows.
func (m Model) visibleUpTo(n int) []adminclient.AuditEvent {
	src := m.events
	if m.paused {
		src = m.frozen
	}
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	out := make([]adminclient.AuditEvent, 0, min(n, len(src)))
	for i := len(src) - 1; i >= 0 && len(out) < n; i-- {
		if q == "" || strings.Contains(src[i].text, q) {
			out = append(out, src[i].AuditEvent)
		}
	}
	return out
}

func searchText(e adminclient.AuditEvent) string {
	return strings.ToLower(strings.Join([]string{e.Kind, e.Actor, e.Subject, e.IP, e.Outcome,
		e.Details["country"], e.Details["decision"], e.Details["reason_codes"], e.Details["client_id"]}, " "))
}

func (m Model) onKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.Type == tea.KeyCtrlC {
		return m, tea.Quit
	}
	// Text fields take every key but enter and esc.
	if m.filtering {
		switch k.Type {
		case tea.KeyEnter, tea.KeyEsc:
			m.filtering = false
			if k.Type == tea.KeyEsc {
				m.filter.SetValue("")
			}
			m.filter.Blur()
			m.cursor = 0
			return m, nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(k)
		m.cursor = 0
		return m, cmd
	}
	if m.searching {
		switch k.Type {
		case tea.KeyEsc:
			m.searching = false
			m.search.Blur()
			return m, nil
		case tea.KeyEnter:
			m.searching = false
			m.search.Blur()
			q := strings.TrimSpace(m.search.Value())
			if q == "" {
				return m, nil
			}
			m.notice, m.factorSel = "", 0
			return m, fetchUser(m.ctx, m.api, q)
		}
		var cmd tea.Cmd
		m.search, cmd = m.search.Update(k)
		return m, cmd
	}
	if m.confirm != nil {
		if k.String() == "y" || (k.String() == "m" && m.confirm.mail != nil) {
			a := m.confirm
			m.confirm = nil
			ctx, api, run := m.ctx, m.api, a.run
			if k.String() == "m" {
				run = a.mail
			}
			return m, func() tea.Msg {
				done, err := run(ctx, api)
				return actionMsg{what: a.what, done: done, err: err}
			}
		}
		m.confirm, m.notice = nil, "cancelled"
		return m, nil
	}
	if m.help {
		m.help = false
		if k.String() != "q" {
			return m, nil
		}
	}
	switch k.String() {
	case "q":
		return m, tea.Quit
	case "?":
		m.help = true
		return m, nil
	case "tab":
		m.tab = (m.tab + 1) % tab(len(tabNames))
		return m, nil
	case "shift+tab":
		m.tab = (m.tab + tab(len(tabNames)) - 1) % tab(len(tabNames))
		return m, nil
	case "1", "2", "3", "4":
		m.tab = tab(k.String()[0] - '1')
		return m, nil
	}
	switch m.tab {
	case tabLive:
		return m.liveKey(k)
	case tabApprovals:
		return m.approvalsKey(k)
	case tabUsers:
		return m.usersKey(k)
	}
	return m, nil
}

func (m Model) liveKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if m.detail != nil {
		if k.Type == tea.KeyEsc || k.Type == tea.KeyEnter || k.String() == "backspace" {
			m.detail = nil
		}
		return m, nil
	}
	switch k.String() {
	case "p", " ":
		m.paused = !m.paused
		m.held = 0
		m.frozen = nil
		if m.paused {
			m.frozen = append([]liveEvent(nil), m.events...)
		}
	case "/":
		m.filtering = true
		return m, m.filter.Focus()
	case "esc":
		m.filter.SetValue("")
		m.cursor = 0
	case "up", "k":
		m.cursor = max(m.cursor-1, 0)
	case "down", "j":
		m.cursor = min(m.cursor+1, max(len(m.visibleUpTo(m.cursor+2))-1, 0))
	case "home", "g":
		m.cursor = 0
	case "enter":
		v := m.visibleUpTo(m.cursor + 1)
		if m.cursor < len(v) {
			e := v[m.cursor]
			m.detail = &e
		}
	}
	return m, nil
}

func (m Model) usersKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "/", "s":
		m.searching = true
		return m, m.search.Focus()
	case "up", "k":
		m.factorSel = max(m.factorSel-1, 0)
	case "down", "j":
		if m.user != nil {
			m.factorSel = min(m.factorSel+1, max(len(m.user.factors)-1, 0))
		}
	case "r":
		if m.user != nil {
			return m, fetchUser(m.ctx, m.api, m.user.user.ID)
		}
	case "l", "u", "o", "e":
		if m.user == nil {
			return m, nil
		}
		id, email := m.user.user.ID, m.user.user.Email
		switch k.String() {
		case "l":
			m.confirm = &pendingAction{prompt: fmt.Sprintf("Lock %s and end their sessions?", email), what: "lock " + email,
				run: func(ctx context.Context, api API) (string, error) { _, err := api.LockUser(ctx, id); return "", err }}
		case "u":
			m.confirm = &pendingAction{prompt: fmt.Sprintf("Unlock %s?", email), what: "unlock " + email,
				run: func(ctx context.Context, api API) (string, error) { _, err := api.UnlockUser(ctx, id); return "", err }}
		case "o":
			m.confirm = &pendingAction{prompt: fmt.Sprintf("Sign %s out everywhere (sessions and app tokens)?", email), what: "sign out " + email,
				run: func(ctx context.Context, api API) (string, error) {
					r, err := api.SignOutUser(ctx, id)
					return fmt.Sprintf("%d sessions ended, %d refresh tokens revoked", r.Sessions, r.RefreshTokens), err
				}}
		case "e":
			loc := m.loc
			m.confirm = &pendingAction{prompt: fmt.Sprintf("Issue a new app enrollment code for %s? (m: mail it)", email), what: "enrollment code for " + email,
				run: func(ctx context.Context, api API) (string, error) {
					e, err := api.StartAppEnrollment(ctx, id)
					return fmt.Sprintf("%s (once, until %s)", e.Code, e.ExpiresAt.In(loc).Format("15:04")), err
				},
				mail: func(ctx context.Context, api API) (string, error) {
					e, err := api.MailAppEnrollment(ctx, id)
					return fmt.Sprintf("mailed to %s (once, until %s)", e.SentTo, e.ExpiresAt.In(loc).Format("15:04")), err
				}}
		}
	case "x", "delete":
		if m.user == nil || m.factorSel >= len(m.user.factors) {
			return m, nil
		}
		id, f := m.user.user.ID, m.user.factors[m.factorSel]
		verb := "Remove"
		if f.Kind == "app_device" || f.Kind == "passkey" {
			verb = "Revoke"
		}
		m.confirm = &pendingAction{prompt: fmt.Sprintf("%s %s %s %q of %s?", verb, factorLabel(f), f.ID, f.Name, m.user.user.Email),
			what: strings.ToLower(verb) + " " + factorLabel(f) + " " + f.ID,
			run: func(ctx context.Context, api API) (string, error) {
				if f.Kind == "app_device" {
					return "", api.RevokeAppDevice(ctx, id, f.ID)
				}
				_, err := api.RemoveFactor(ctx, id, f.ID)
				return "", err
			}}
	}
	return m, nil
}

func (m Model) approvalsKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	var n int
	if m.push != nil {
		n = len(m.push.Pending)
	}
	switch k.String() {
	case "up", "k":
		m.pushSel = max(m.pushSel-1, 0)
	case "down", "j":
		m.pushSel = min(m.pushSel+1, max(n-1, 0))
	case "r":
		return m, fetchPush(m.ctx, m.api)
	case "enter":
		// Open the user behind the request in the Users tab.
		if m.pushSel < n {
			m.tab, m.notice, m.factorSel = tabUsers, "", 0
			return m, fetchUser(m.ctx, m.api, m.push.Pending[m.pushSel].UserID)
		}
	}
	return m, nil
}

// factorLabel names a factor's kind for people.
func factorLabel(f adminclient.Factor) string {
	if f.Kind == "app_device" {
		return "app device"
	}
	return f.Kind
}

// reasons decodes an assessment's reasons from its audit details.
func reasons(e adminclient.AuditEvent) []adminclient.RiskReason {
	var rs []adminclient.RiskReason
	json.Unmarshal([]byte(e.Details["reasons"]), &rs)
	return rs
}
