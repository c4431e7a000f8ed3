package tui

import (
	"cmp"
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
	case m.tab == tabApprovals:
		body = m.approvalsView(w, h-3)
	case m.tab == tabUsers:
		body = m.usersView(w, h-3)
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
	case m.confirm != nil && m.confirm.mail != nil:
		return "y: confirm · m: mail to the user instead · any other key: cancel"
	case m.confirm != nil:
		return "y: confirm · any other key: cancel"
	case m.tab == tabLive && m.detail != nil:
		return "esc/enter: back · q: quit"
	case m.tab == tabLive:
		return "p: pause · /: filter · ↑↓ enter: open · tab: switch · ?: help · q: quit"
	case m.tab == tabApprovals:
		return "↑↓ enter: open the user · r: refresh · tab: switch · ?: help · q: quit"
	case m.tab == tabUsers && m.width < 110:
		return "/ search · l lock · u unlock · ↑↓ x revoke · o sign out · e code · r · q"
	case m.tab == tabUsers:
		return "/: search · l: lock · u: unlock · ↑↓ x: revoke · o: sign out everywhere · e: enrollment code · r: refresh · q: quit"
	}
	return "tab: switch · ?: help · q: quit"
}

func (m Model) helpView() []string {
	return []string{
		m.st.bold.Render("Keys"),
		"",
		"  tab, shift+tab, 1-4     switch tab",
		"  ?                       this help",
		"  q, ctrl+c               quit",
		"",
		"  Live      p or space pause and resume · / filter (esc clears)",
		"            ↑ ↓ choose an event · enter open it with every reason",
		"  Approvals ↑ ↓ choose a request · enter open its user",
		"  Users     / search by e-mail or id · l lock · u unlock",
		"            ↑ ↓ choose a factor or device · x revoke it",
		"            o sign out everywhere · e new app enrollment code",
		"            r refresh · every action asks for y first",
		"",
		"The console reconnects by itself and resumes from the last event",
		"it saw, so nothing is missed while the server restarts.",
	}
}

func (m Model) liveView(w, h int) []string {
	v := m.visibleUpTo(max(h-2, m.cursor+1))
	summary := fmt.Sprintf("%d events · allow %d · challenge %d · deny %d", m.received,
		m.decisions["allow"], m.decisions["challenge"], m.decisions["deny"])
	if m.paused {
		summary += fmt.Sprintf(" · PAUSED (+%d new)", m.held)
	}
	if m.filtering || m.filter.Value() != "" {
		summary += " · " + m.filter.View()
	}
	out := []string{fit(summary, w), m.st.bold.Render(fit(" "+liveColumns(w, "TIME", "KIND", "USER", "CLIENT", "IP / COUNTRY", "RSK", "DECISION", "REASONS"), w))}
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
		line := fit(mark+liveColumns(w, e.Time.In(m.loc).Format("15:04:05"), e.Kind, who, e.Details["client_id"], where, score, decision,
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
// when there is room, the relying party's client from 140, the reasons
// taking the rest.
func liveColumns(w int, time, kind, user, client, where, score, decision, reasons string) string {
	kw, uw := 14, 11
	if w >= 110 {
		kw, uw = 18, 28
	}
	row := fmt.Sprintf("%-8s %-*s %-*s ", time, kw, clip(kind, kw), uw, clip(user, uw))
	if w >= 140 {
		row += fmt.Sprintf("%-16s ", clip(client, 16))
	}
	return row + fmt.Sprintf("%-18s %3s %-9s %s", clip(where, 18), score, clip(decision, 9), reasons)
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

func (m Model) usersView(w, h int) []string {
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
		"", m.st.bold.Render(fmt.Sprintf("Factors and devices (%d)", len(m.user.factors))))
	// The factors scroll with the selection when there are many, leaving
	// room for the sections below.
	fs := m.user.factors
	frows := max(h-len(out)-9, 3)
	fstart := 0
	if m.factorSel >= frows {
		fstart = m.factorSel - frows + 1
	}
	for i := fstart; i < len(fs) && i < fstart+frows; i++ {
		f := fs[i]
		mark := " "
		if i == m.factorSel {
			mark = "›"
		}
		line := fit(fmt.Sprintf(" %s%-10s %-24s %-18s added %s %s", mark, factorLabel(f), clip(f.Name, 24), clip(f.ID, 18),
			f.CreatedAt.In(m.loc).Format("2006-01-02"), factorState(f)), w)
		if i == m.factorSel {
			line = m.st.sel.Render(padRight(line, w))
		}
		out = append(out, line)
	}
	if len(m.user.factors) == 0 {
		out = append(out, "  none")
	}
	// What is left is shared by the assessments, the sessions and the
	// sign-ins, each getting at least one line.
	rows := share(h-len(out)-6, len(m.user.risk), len(m.user.sessions), len(m.user.signIns))
	out = append(out, "", m.st.bold.Render("Recent risk assessments"))
	for _, a := range m.user.risk[:rows[0]] {
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
	out = append(out, "", m.st.bold.Render(fmt.Sprintf("Sessions (%d active; o ends them all)", len(m.user.sessions))))
	for _, se := range m.user.sessions[:rows[1]] {
		out = append(out, fit(fmt.Sprintf("  %s %-15s %-13s until %s  %s", se.CreatedAt.In(m.loc).Format("01-02 15:04"), clip(se.IP, 15),
			clip(strings.Join(se.AMR, " "), 13), se.ExpiresAt.In(m.loc).Format("01-02 15:04"), se.UserAgent), w))
	}
	if len(m.user.sessions) == 0 {
		out = append(out, "  none")
	}
	out = append(out, "", m.st.bold.Render("Recent sign-ins"))
	for _, si := range m.user.signIns[:rows[2]] {
		how := "password only"
		if si.Strong {
			how = "strong"
		}
		device := strings.TrimSpace(si.Browser + " on " + si.OS)
		if si.Browser == "" && si.OS == "" {
			device = "unknown browser"
		}
		out = append(out, fit(fmt.Sprintf("  %s %-15s %-20s %-13s %s", si.Time.In(m.loc).Format("01-02 15:04"),
			clip(strings.TrimSpace(si.IP+" "+si.Country), 15), clip(device, 20), how, si.City), w))
	}
	if len(m.user.signIns) == 0 {
		out = append(out, "  none")
	}
	return out
}

// share deals room lines out to sections wanting ns lines, one at a
// time in turn, so each shows at least one when it has any.
func share(room int, ns ...int) []int {
	got := make([]int, len(ns))
	for more := true; more; {
		more = false
		for i, n := range ns {
			if got[i] < n && (room > 0 || got[i] == 0) {
				got[i]++
				room--
				more = true
			}
		}
	}
	return got
}

// factorState says what is notable about a factor.
func factorState(f adminclient.Factor) string {
	switch {
	case f.Suspect:
		return "CLONED?"
	case f.Pending:
		return "pending"
	case f.Kind == "totp" && !f.Active:
		return "unconfirmed"
	case f.Kind == "recovery":
		return fmt.Sprintf("%d left", f.Remaining)
	case f.Kind == "passkey" && f.Synced:
		return "synced"
	case f.Kind == "app_device" && f.Platform != "":
		return f.Platform
	}
	return ""
}

// approvalsView shows the push requests waiting, with their countdowns,
// the approval statistics and the latest decisions, reports first in
// colour and marked with ! without it.
func (m Model) approvalsView(w, h int) []string {
	if m.push == nil {
		msg := "loading approval requests..."
		if m.pushErr != "" {
			msg = "approval requests unavailable: " + m.pushErr
		}
		return []string{m.st.dim.Render(fit(msg, w))}
	}
	p := m.push
	elapsed := max(m.now.Sub(m.pushAt), 0)
	head := fmt.Sprintf("Waiting for the app: %d", len(p.Pending)+p.More)
	if m.pushErr != "" {
		head += " · last refresh failed: " + m.pushErr
	}
	out := []string{m.st.bold.Render(fit(head, w)),
		m.st.bold.Render(fit(fmt.Sprintf(" %-7s %-23s %-8s %-18s %s", "LEFT", "USER", "KIND", "FROM", "WHAT"), w))}
	// The statistics and decisions below need about 12 lines.
	rows := max(h-14, 2)
	start := 0
	if m.pushSel >= rows {
		start = m.pushSel - rows + 1
	}
	for i := start; i < len(p.Pending) && i < start+rows; i++ {
		r := p.Pending[i]
		left := time.Duration(r.ExpiresIn*float64(time.Second)) - elapsed
		countdown := "expired"
		if left > 0 {
			secs := int(left.Seconds())
			countdown = fmt.Sprintf("%d:%02d", secs/60, secs%60)
		}
		who := cmp.Or(r.Email, r.UserID)
		what := strings.TrimSpace(r.RPName + " " + r.Browser)
		if r.Kind == "payment" {
			what = fmt.Sprintf("%s %s to %s", r.Amount, r.Currency, r.Payee)
		}
		mark := " "
		if i == m.pushSel {
			mark = "›"
		}
		line := fit(fmt.Sprintf("%s%7s %-23s %-8s %-18s %s", mark, countdown, clip(who, 23), r.Kind,
			clip(strings.TrimSpace(r.IP+" "+r.Country), 18), what), w)
		if i == m.pushSel {
			line = m.st.sel.Render(padRight(line, w))
		} else if left <= 15*time.Second {
			line = m.st.challenge.Render(line)
		}
		out = append(out, line)
	}
	if len(p.Pending) == 0 {
		out = append(out, m.st.dim.Render("  none waiting"))
	} else if hidden := len(p.Pending) - rows + p.More; hidden > 0 {
		out = append(out, m.st.dim.Render(fmt.Sprintf("  (%d more)", hidden)))
	}
	// Time to approve: from the request to the approval.
	out = append(out, "", m.st.bold.Render(fit("window requests approved denied reported appr/min deny/min p50 appr p99 appr", w)))
	if s := m.stats; s != nil {
		for _, win := range s.Windows {
			per := float64(max(win.Minutes, 1))
			out = append(out, fit(fmt.Sprintf("%-6s %8d %8d %6d %8d %8.1f %8.1f %8s %8s", windowName(win.Minutes), win.PushRequests,
				win.Approvals, win.Denials, win.Reports, float64(win.Approvals)/per, float64(win.Denials)/per,
				fmtMs(win.ApprovalLatency.P50, win.ApprovalLatency.Count), fmtMs(win.ApprovalLatency.P99, win.ApprovalLatency.Count)), w))
		}
		out = append(out, fit("approved/min, 1 h  "+sparkline(s.ApprovalsPerMinute, w-32), w),
			fit("denied/min, 1 h    "+sparkline(s.DenialsPerMinute, w-32), w))
	} else {
		out = append(out, m.st.dim.Render("  loading statistics..."))
	}
	out = append(out, "", m.st.bold.Render("Latest decisions"))
	for _, d := range p.Recent {
		if len(out) >= h {
			break
		}
		status, style, mark := d.Status, m.decisionStyle(d.Status), " "
		switch {
		case d.NotMe:
			status, style, mark = "REPORTED: this wasn't me", m.st.deny, "!"
		case d.Status == "locked":
			status, style, mark = "LOCKED after repeated denials", m.st.deny, "!"
		}
		took := ""
		if d.LatencyMs > 0 {
			took = "after " + fmtMs(d.LatencyMs, 1)
		}
		out = append(out, style.Render(fit(fmt.Sprintf("%s%s %-24s %-24s %s", mark, d.Time.In(m.loc).Format("15:04:05"), clip(cmp.Or(d.Email, d.UserID), 24),
			status, took), w)))
	}
	if len(p.Recent) == 0 {
		out = append(out, m.st.dim.Render("  none yet"))
	}
	return out
}

// fmtMs shows milliseconds for people: "-" without samples, seconds
// from one second up.
func fmtMs(ms float64, n int) string {
	switch {
	case n == 0:
		return "-"
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
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
	out = append(out, "", m.st.bold.Render(fit("window  sign-ins  /min failures assessed challenge   deny  p50 time  p99 time", w)))
	for _, win := range s.Windows {
		l := win.SignInLatency
		out = append(out, fit(fmt.Sprintf("%-6s %9d %5.1f %8d %8d %8.1f%% %5.1f%% %9s %9s", windowName(win.Minutes), win.SignIns,
			float64(win.SignIns)/float64(max(win.Minutes, 1)), win.Failures, win.Assessments, 100*win.ChallengeRate, 100*win.DenyRate,
			fmtMs(l.P50, l.Count), fmtMs(l.P99, l.Count)), w))
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
