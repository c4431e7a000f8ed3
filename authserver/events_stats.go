package authserver

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/store"
)

// eventStats counts the audit stream in per-minute buckets over the last
// hour, in memory: a restart starts from zero. Each bucket keeps at most
// statsMaxKeys distinct reasons, addresses and countries; the rest are
// counted under "other", so an attack from a million addresses costs no
// more memory than one from a thousand.
type eventStats struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets [statsMinutes]statsBucket
	lastSeq uint64
	// push follows approval requests from creation to decision
	// (events_push.go).
	push pushWatch
}

const (
	statsMinutes = 60
	statsMaxKeys = 500
	statsTop     = 10
)

type statsBucket struct {
	minute      int64 // Unix minute; buckets of older minutes are stale
	assessments int
	challenges  int
	denies      int
	signIns     int
	failures    int
	reasons     map[string]int
	ips         map[string]int
	countries   map[string]int
	// Push approval requests.
	pushRequests int
	approvals    int
	denials      int
	reports      int
	// Latencies, allocated on first use.
	signInLatency   *latencyHist
	approvalLatency *latencyHist
}

func newEventStats(now func() time.Time) *eventStats { return &eventStats{now: now} }

func (st *eventStats) add(e store.AuditEvent) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lastSeq = max(st.lastSeq, e.Seq)
	approvalMs, matched := st.push.add(e, st.now())
	m := e.Time.Unix() / 60
	if m <= st.now().Unix()/60-statsMinutes {
		return
	}
	b := &st.buckets[m%statsMinutes]
	if b.minute != m {
		*b = statsBucket{minute: m, reasons: map[string]int{}, ips: map[string]int{}, countries: map[string]int{}}
	}
	switch e.Kind {
	case "signin.succeeded":
		b.signIns++
		if ms, err := strconv.ParseFloat(e.Details["latency_ms"], 64); err == nil && ms >= 0 {
			if b.signInLatency == nil {
				b.signInLatency = new(latencyHist)
			}
			b.signInLatency.add(ms)
		}
	case "push.created":
		b.pushRequests++
	case "push.approved":
		b.approvals++
		if matched {
			if b.approvalLatency == nil {
				b.approvalLatency = new(latencyHist)
			}
			b.approvalLatency.add(approvalMs)
		}
	case "push.denied":
		b.denials++
	case "push.reported":
		b.reports++
	case "signin.failed", "signin.denied":
		b.failures++
	case "risk.assessed":
		b.assessments++
		switch e.Details["decision"] {
		case "challenge":
			b.challenges++
		case "deny":
			b.denies++
		}
		for code := range strings.FieldsSeq(e.Details["reason_codes"]) {
			bump(b.reasons, code)
		}
		if e.IP != "" {
			bump(b.ips, e.IP)
		}
		if c := e.Details["country"]; c != "" {
			bump(b.countries, c)
		}
	}
}

func bump(m map[string]int, k string) {
	if _, ok := m[k]; !ok && len(m) >= statsMaxKeys {
		k = "other"
	}
	m[k]++
}

// The answer of GET /admin/v1/stats has the shape the admin client decodes.
type (
	Stats       = adminclient.Stats
	StatsWindow = adminclient.StatsWindow
	StatsCount  = adminclient.StatsCount
)

func (st *eventStats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now().UTC()
	cur := now.Unix() / 60
	out := Stats{Time: now, LastSeq: st.lastSeq,
		AssessmentsPerMinute: make([]int, statsMinutes), SignInsPerMinute: make([]int, statsMinutes),
		ApprovalsPerMinute: make([]int, statsMinutes), DenialsPerMinute: make([]int, statsMinutes)}
	reasons, ips, countries := map[string]int{}, map[string]int{}, map[string]int{}
	windows := []int{1, 5, 60}
	out.Windows = make([]StatsWindow, len(windows))
	signIn, approval := make([]latencyHist, len(windows)), make([]latencyHist, len(windows))
	for i, n := range windows {
		out.Windows[i].Minutes = n
	}
	for age := range int64(statsMinutes) {
		b := &st.buckets[(cur-age)%statsMinutes]
		if b.minute != cur-age {
			continue
		}
		out.AssessmentsPerMinute[statsMinutes-1-age] = b.assessments
		out.SignInsPerMinute[statsMinutes-1-age] = b.signIns
		out.ApprovalsPerMinute[statsMinutes-1-age] = b.approvals
		out.DenialsPerMinute[statsMinutes-1-age] = b.denials
		for i, n := range windows {
			if age < int64(n) {
				w := &out.Windows[i]
				w.SignIns += b.signIns
				w.Failures += b.failures
				w.Assessments += b.assessments
				w.Challenges += b.challenges
				w.Denies += b.denies
				w.PushRequests += b.pushRequests
				w.Approvals += b.approvals
				w.Denials += b.denials
				w.Reports += b.reports
				signIn[i].merge(b.signInLatency)
				approval[i].merge(b.approvalLatency)
			}
		}
		for k, v := range b.reasons {
			reasons[k] += v
		}
		for k, v := range b.ips {
			ips[k] += v
		}
		for k, v := range b.countries {
			countries[k] += v
		}
	}
	for i := range out.Windows {
		w := &out.Windows[i]
		w.SignInLatency, w.ApprovalLatency = signIn[i].summary(), approval[i].summary()
		if w.Assessments > 0 {
			w.ChallengeRate = float64(w.Challenges) / float64(w.Assessments)
			w.DenyRate = float64(w.Denies) / float64(w.Assessments)
		}
	}
	out.TopReasons, out.TopIPs, out.TopCountries = top(reasons), top(ips), top(countries)
	return out
}

func top(m map[string]int) []StatsCount {
	out := make([]StatsCount, 0, len(m))
	for k, v := range m {
		out = append(out, StatsCount{Key: k, Count: v})
	}
	slices.SortFunc(out, func(a, b StatsCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	})
	return out[:min(len(out), statsTop)]
}
