package tui

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"

	"github.com/assent-auth/assent/adminclient"
)

type styles struct {
	title, tabOn, tabOff, dim, bold, sel lipgloss.Style
	allow, challenge, deny, live, bad    lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	return styles{
		title:     r.NewStyle().Bold(true),
		tabOn:     r.NewStyle().Bold(true).Reverse(true),
		tabOff:    r.NewStyle().Faint(true),
		dim:       r.NewStyle().Faint(true),
		bold:      r.NewStyle().Bold(true),
		sel:       r.NewStyle().Reverse(true),
		allow:     r.NewStyle().Foreground(lipgloss.Color("2")),
		challenge: r.NewStyle().Foreground(lipgloss.Color("3")),
		deny:      r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		live:      r.NewStyle().Foreground(lipgloss.Color("2")),
		bad:       r.NewStyle().Foreground(lipgloss.Color("1")),
	}
}

// View draws the whole screen: exactly height lines of at most width
// columns.
func (m Model) View() string {
	w, h := max(m.width, 20), max(m.height, 5)
	var body []string
	switch {
	case m.help:
		body = m.helpView()
	case m.tab == tabLive && m.detail != nil:
		body = m.detailView(w)
	case m.tab == tabLive:
		body = m.liveView(w, h-3)
	case m.tab == tabUsers:
		body = m.usersView(w)
	case m.tab == tabOverview:
		body = m.overviewView(w)
	}
	lines := []string{m.headerView(w), m.statusView(w)}
	for i := range h - 3 {
		if i < len(body) {
			lines = append(lines, body[i])
		} else {
			lines = append(lines, "")
		}
	}
	lines = append(lines, m.st.dim.Render(fit(m.keysHelp(), w)))
	// A terminal too small for a line cuts it rather than wrapping it.
	cut := lipgloss.NewStyle().MaxWidth(w)
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = cut.Render(l)
		}
	}
	return strings.Join(lines, "\n")
}

func (m Model) headerView(w int) string {
	var tabs []string
	for i, n := range tabNames {
		label := fmt.Sprintf(" %d %s ", i+1, n)
		if tab(i) == m.tab {
			tabs = append(tabs, m.st.tabOn.Render("["+label+"]"))
		} else {
			tabs = append(tabs, m.st.tabOff.Render(" "+label+" "))
		}
	}
	left := m.st.title.Render("assent console") + " " + strings.Join(tabs, "")
	var conn string
	switch m.conn {
	case connLive:
		conn = m.st.live.Render("● live")
	case connConnecting:
		conn = "○ connecting"
	case connOffline:
		conn = m.st.bad.Render(fmt.Sprintf("✕ offline, retry %d in %s", m.attempt, m.retryIn.Round(100*time.Millisecond)))
	}
	gap := w - lipgloss.Width(left) - lipgloss.Width(conn)
	if gap < 1 {
		return left
	}
	return left + strings.Repeat(" ", gap) + conn
}

func (m Model) statusView(w int) string {
	s := m.server
	if m.conn == connOffline && m.lastErr != "" {
		s += " · " + m.lastErr
	} else if m.lastSeq > 0 {
		s += fmt.Sprintf(" · seq %d", m.lastSeq)
	}
	return m.st.dim.Render(fit(s, w))
}

func (m Model) keysHelp() string {
	switch {
	case m.help:
		return "any key: close help"
	case m.filtering:
		return "type to filter · enter: keep · esc: clear"
	case m.searching:
		return "enter: look up · esc: cancel"
	case m.confirm != nil:
		return "y: confirm · any other key: cancel"
	case m.tab == tabLive && m.detail != nil:
		return "esc/enter: back · q: quit"
	case m.tab == tabLive:
		return "p: pause · /: filter · ↑↓ enter: open · tab: switch · ?: help · q: quit"
	case m.tab == tabUsers:
		return "/: search · l: lock · u: unlock · ↑↓ x: remove factor · r: refresh · q: quit"
	}
	return "tab: switch · ?: help · q: quit"
}

func (m Model) helpView() []string {
	return []string{
		m.st.bold.Render("Keys"),
		"",
		"  tab, shift+tab, 1 2 3   switch tab",
		"  ?                       this help",
		"  q, ctrl+c               quit",
		"",
		"  Live      p or space pause and resume · / filter (esc clears)",
		"            ↑ ↓ choose an event · enter open it with every reason",
		"  Users     / search by e-mail or id · l lock · u unlock",
		"            ↑ ↓ choose a factor · x remove it · r refresh",
		"            every action asks for y first",
		"",
		"The console reconnects by itself and resumes from the last event",
		"it saw, so nothing is missed while the server restarts.",
	}
}

func (m Model) liveView(w, h int) []string {
	v := m.visible()
	summary := fmt.Sprintf("%d events · allow %d · challenge %d · deny %d", m.received,
		m.decisions["allow"], m.decisions["challenge"], m.decisions["deny"])
	if m.paused {
		summary += fmt.Sprintf(" · PAUSED (+%d new)", m.held)
	}
	if m.filtering || m.filter.Value() != "" {
		summary += " · " + m.filter.View()
	}
	out := []string{fit(summary, w), m.st.bold.Render(fit(" "+liveColumns(w, "TIME", "KIND", "USER", "IP / COUNTRY", "RSK", "DECISION", "REASONS"), w))}
	rows := h - 2
	start := 0
	if m.cursor >= rows {
		start = m.cursor - rows + 1
	}
	for i := start; i < len(v) && len(out) < h; i++ {
		e := v[i]
		score, decision := e.Details["score"], e.Details["decision"]
		if decision == "" {
			decision = e.Outcome
		}
		who := e.Subject
		if who == "" {
			who = e.Actor
		}
		where := e.IP
		if c := e.Details["country"]; c != "" {
			where += " " + c
		}
		// The marker shows the selected row without colour too.
		mark := " "
		if i == m.cursor {
			mark = "›"
		}
		line := fit(mark+liveColumns(w, e.Time.In(m.loc).Format("15:04:05"), e.Kind, who, where, score, decision,
			strings.ReplaceAll(e.Details["reason_codes"], " ", ",")), w)
		style := m.decisionStyle(decision)
		if i == m.cursor {
			line = m.st.sel.Render(padRight(line, w))
		} else {
			line = style.Render(line)
		}
		out = append(out, line)
	}
	if len(v) == 0 {
		out = append(out, m.st.dim.Render("  waiting for events..."))
	}
	return out
}

// liveColumns lays out one row: narrow columns at 80 wide, wider ones
// when there is room, the reasons taking the rest.
func liveColumns(w int, time, kind, user, where, score, decision, reasons string) string {
	kw, uw := 14, 11
	if w >= 110 {
		kw, uw = 18, 28
	}
	return fmt.Sprintf("%-8s %-*s %-*s %-18s %3s %-9s %s", time, kw, clip(kind, kw), uw, clip(user, uw), clip(where, 18),
		score, clip(decision, 9), reasons)
}

func (m Model) decisionStyle(d string) lipgloss.Style {
	switch d {
	case "allow", "ok":
		return m.st.allow
	case "challenge", "challenged":
		return m.st.challenge
	case "deny", "denied", "failed", "throttled":
		return m.st.deny
	}
	return lipgloss.Style{}
}

func (m Model) detailView(w int) []string {
	e := *m.detail
	d := e.Details
	out := []string{
		m.st.bold.Render(fit(fmt.Sprintf("Event %d: %s (%s)", e.Seq, e.Kind, e.Outcome), w)),
		fit("time      "+e.Time.In(m.loc).Format("2006-01-02 15:04:05 MST"), w),
		fit("actor     "+e.Actor, w),
		fit("subject   "+e.Subject, w),
		fit("from      "+strings.TrimSpace(e.IP+" "+d["country"]+" "+d["precision"]), w),
		fit("agent     "+e.UserAgent, w),
	}
	if d["decision"] != "" {
		out = append(out, m.decisionStyle(d["decision"]).Render(fit(fmt.Sprintf("decision  %s, score %s (%s), policy %s", d["decision"], d["score"], d["level"], d["policy_version"]), w)))
		if d["acr"] != "" {
			out = append(out, fit(fmt.Sprintf("step-up   to %s [%s]", d["acr"], d["methods"]), w))
		}
		if d["exemption"] != "" {
			out = append(out, fit("exemption "+d["exemption"], w))
		}
		out = append(out, "", m.st.bold.Render("Reasons"))
		rs := reasons(e)
		for _, r := range rs {
			out = append(out, fit(fmt.Sprintf("  %+4d  %-22s %s", r.Weight, r.Code, r.Detail), w))
		}
		if len(rs) == 0 {
			out = append(out, "  no risk signals")
		}
	}
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		switch k {
		case "decision", "score", "level", "policy_version", "acr", "methods", "exemption", "reasons", "reason_codes", "country", "precision":
			continue
		}
		rest = append(rest, fit(fmt.Sprintf("  %-14s %s", k, d[k]), w))
	}
	if len(rest) > 0 {
		out = append(out, "", m.st.bold.Render("Details"))
		out = append(out, rest...)
	}
	return out
}

func (m Model) usersView(w int) []string {
	out := []string{fit(m.search.View(), w)}
	if m.confirm != nil {
		out = append(out, m.st.deny.Render(fit(m.confirm.prompt+" (y/n)", w)))
	} else if m.notice != "" {
		out = append(out, fit(m.notice, w))
	} else {
		out = append(out, "")
	}
	if m.userErr != "" {
		return append(out, m.st.bad.Render(fit(m.userErr, w)))
	}
	if m.user == nil {
		return append(out, m.st.dim.Render("Press / and type an e-mail address or user id."))
	}
	u := m.user.user
	state := "active"
	if u.Locked {
		state = m.st.deny.Render("LOCKED")
	}
	out = append(out,
		m.st.bold.Render(fit(u.Email+"  "+u.Name, w)),
		fit(fmt.Sprintf("id %s · %s · verified %t · failed sign-ins %d", u.ID, state, u.EmailVerified, u.FailedSignIns), w),
		fit("last sign-in "+m.fmtTime(u.LastSignIn), w),
		"", m.st.bold.Render(fmt.Sprintf("Factors (%d)", len(m.user.factors))))
	for i, f := range m.user.factors {
		mark := " "
		if i == m.factorSel {
			mark = "›"
		}
		line := fit(fmt.Sprintf(" %s%-8s %-24s %-18s added %s", mark, f.Kind, clip(f.Name, 24), clip(f.ID, 18), f.CreatedAt.In(m.loc).Format("2006-01-02")), w)
		if i == m.factorSel {
			line = m.st.sel.Render(padRight(line, w))
		}
		out = append(out, line)
	}
	if len(m.user.factors) == 0 {
		out = append(out, "  none")
	}
	out = append(out, "", m.st.bold.Render("Recent risk assessments"))
	for _, a := range m.user.risk {
		codes := make([]string, 0, len(a.Reasons))
		for _, r := range a.Reasons {
			codes = append(codes, r.Code)
		}
		out = append(out, m.decisionStyle(a.Decision).Render(fit(fmt.Sprintf("  %s %-6s %3d %-9s %-15s %s", a.Time.In(m.loc).Format("01-02 15:04"),
			a.Event, a.Score, a.Decision, strings.TrimSpace(a.IP+" "+a.Country), strings.Join(codes, ",")), w)))
	}
	if len(m.user.risk) == 0 {
		out = append(out, "  none")
	}
	return out
}

func (m Model) fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(m.loc).Format("2006-01-02 15:04")
}

func (m Model) overviewView(w int) []string {
	var out []string
	policy := m.policy
	if policy == "" {
		policy = "?"
	}
	out = append(out, fit("Risk policy "+policy, w))
	if m.stats == nil {
		msg := "loading statistics..."
		if m.statsErr != "" {
			msg = "statistics unavailable: " + m.statsErr
		}
		return append(out, m.st.dim.Render(fit(msg, w)))
	}
	s := m.stats
	out = append(out, "", m.st.bold.Render(fit("window   sign-ins  /min  failures  assessed  challenge  deny", w)))
	for _, win := range s.Windows {
		out = append(out, fit(fmt.Sprintf("%-6s %10d %5.1f %9d %9d %9.1f%% %5.1f%%", windowName(win.Minutes), win.SignIns,
			float64(win.SignIns)/float64(max(win.Minutes, 1)), win.Failures, win.Assessments, 100*win.ChallengeRate, 100*win.DenyRate), w))
	}
	spark := sparkline(s.AssessmentsPerMinute, w-32)
	out = append(out, "", fit("assessed/min, 1 h  "+spark, w))
	out = append(out, "", m.st.bold.Render(fit(fmt.Sprintf("%-26s %-26s %s", "top reasons (1 h)", "top IPs", "top countries"), w)))
	for i := range 6 {
		out = append(out, fit(fmt.Sprintf("%-26s %-26s %s", topEntry(s.TopReasons, i, 20), topEntry(s.TopIPs, i, 20), topEntry(s.TopCountries, i, 10)), w))
	}
	if m.statsErr != "" {
		out = append(out, m.st.bad.Render(fit("last refresh failed: "+m.statsErr, w)))
	}
	return out
}

func windowName(min int) string {
	if min%60 == 0 {
		return strconv.Itoa(min/60) + " h"
	}
	return strconv.Itoa(min) + " min"
}

func topEntry(c []adminclient.StatsCount, i, width int) string {
	if i >= len(c) {
		return ""
	}
	return fmt.Sprintf("%-*s %d", width, clip(c[i].Key, width), c[i].Count)
}

// sparkline draws the last width values of vs with block characters.
func sparkline(vs []int, width int) string {
	if width <= 0 {
		return ""
	}
	if len(vs) > width {
		vs = vs[len(vs)-width:]
	}
	peak := 0
	for _, v := range vs {
		peak = max(peak, v)
	}
	const bars = "▁▂▃▄▅▆▇█"
	blocks := []rune(bars)
	var b strings.Builder
	for _, v := range vs {
		i := 0
		if peak > 0 {
			i = v * (len(blocks) - 1) / peak
		}
		b.WriteRune(blocks[i])
	}
	return fmt.Sprintf("%s peak %d", b.String(), peak)
}

// fit cuts s to w columns (s has no escape codes).
func fit(s string, w int) string {
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	if w <= 1 {
		return string(r[:w])
	}
	return string(r[:w-1]) + "…"
}

func clip(s string, w int) string { return fit(s, w) }

func padRight(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}
