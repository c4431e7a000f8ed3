package tui

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/assent-auth/assent/adminclient"
)

// API is the part of the admin API the console uses;
// *adminclient.Client implements it, tests pass fakes.
type API interface {
	Events(ctx context.Context, after uint64, f adminclient.EventFilter, fn func(adminclient.StreamItem) error) error
	Stats(ctx context.Context) (adminclient.Stats, error)
	RiskPolicy(ctx context.Context) (adminclient.RiskPolicy, error)
	GetUser(ctx context.Context, user string) (adminclient.User, error)
	ListFactors(ctx context.Context, user string) ([]adminclient.Factor, error)
	UserRisk(ctx context.Context, user string, limit int) ([]adminclient.RiskAssessment, error)
	LockUser(ctx context.Context, user string) (adminclient.User, error)
	UnlockUser(ctx context.Context, user string) (adminclient.User, error)
	RemoveFactor(ctx context.Context, user, id string) (adminclient.RemovedFactor, error)
	RevokeAppDevice(ctx context.Context, user, id string) error
	UserSignIns(ctx context.Context, user string, limit int) ([]adminclient.SignIn, error)
	UserSessions(ctx context.Context, user string) ([]adminclient.Session, error)
	SignOutUser(ctx context.Context, user string) (adminclient.SignOutResult, error)
	StartAppEnrollment(ctx context.Context, user string) (adminclient.AppEnrollment, error)
	MailAppEnrollment(ctx context.Context, user string) (adminclient.AppEnrollment, error)
	PendingPush(ctx context.Context) (adminclient.PushOverview, error)
}

var _ API = (*adminclient.Client)(nil)

// Messages from the stream and the API. Each stream connection has a
// generation; messages of an older one are ignored.
type (
	// streamMsg is a batch of what one connection delivered: items, and
	// at the end possibly the reason it closed.
	streamMsg struct {
		gen    int
		opened bool
		items  []adminclient.StreamItem
		closed bool
		err    error
		ch     <-chan streamSignal
	}
	// retryMsg asks for a new connection after the backoff.
	retryMsg struct{ gen int }
	statsMsg struct {
		stats adminclient.Stats
		err   error
	}
	policyMsg struct {
		policy adminclient.RiskPolicy
		err    error
	}
	statsTickMsg struct{}
	// pushMsg is the approvals list, with when it arrived.
	pushMsg struct {
		push adminclient.PushOverview
		at   time.Time
		err  error
	}
	// clockMsg moves the countdowns on.
	clockMsg time.Time
	userMsg  struct {
		query    string
		user     adminclient.User
		factors  []adminclient.Factor
		risk     []adminclient.RiskAssessment
		signIns  []adminclient.SignIn
		sessions []adminclient.Session
		err      error
	}
	actionMsg struct {
		what string
		// done is what the operator is told on success.
		done string
		err  error
	}
)

// streamSignal is what the reading goroutine hands to the program.
type streamSignal struct {
	item   adminclient.StreamItem
	opened bool
	closed bool
	err    error
}

// streamBuffer bounds what is read from the network but not yet shown.
// When the screen cannot keep up the reader blocks, the server drops the
// stream, and the console resumes from its last sequence number: memory
// stays bounded and no event is lost.
const streamBuffer = 4096

// maxBatch is how many stream items one message carries at most.
const maxBatch = 2048

func connect(ctx context.Context, api API, gen int, after uint64, f adminclient.EventFilter) tea.Cmd {
	return func() tea.Msg {
		ch := make(chan streamSignal, streamBuffer)
		go func() {
			err := api.Events(ctx, after, f, func(it adminclient.StreamItem) error {
				if it.Type == "open" {
					ch <- streamSignal{opened: true}
					return nil
				}
				select {
				case ch <- streamSignal{item: it}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			select {
			case ch <- streamSignal{closed: true, err: err}:
			case <-ctx.Done():
			}
		}()
		return listen(gen, ch)()
	}
}

// listen waits for the next signals of a connection and returns them as
// one message.
func listen(gen int, ch <-chan streamSignal) tea.Cmd {
	return func() tea.Msg {
		m := streamMsg{gen: gen, ch: ch}
		add := func(s streamSignal) bool {
			switch {
			case s.opened:
				m.opened = true
			case s.closed:
				m.closed, m.err = true, s.err
				return false
			default:
				m.items = append(m.items, s.item)
			}
			return true
		}
		if !add(<-ch) {
			return m
		}
		for len(m.items) < maxBatch {
			select {
			case s := <-ch:
				if !add(s) {
					return m
				}
			default:
				return m
			}
		}
		return m
	}
}

// backoff is the wait before reconnection attempt n (1, 2, ...): doubling
// from half a second to 15 s, with jitter so consoles do not return in
// step after a server restart.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 5)
	d = min(d, 15*time.Second)
	return d/2 + rand.N(d/2+1)
}

func isUnauthorized(err error) bool {
	var p *adminclient.Problem
	return errors.As(err, &p) && p.Status == http.StatusUnauthorized
}

func fetchStats(ctx context.Context, api API) tea.Cmd {
	return func() tea.Msg {
		s, err := api.Stats(ctx)
		return statsMsg{s, err}
	}
}

func fetchPolicy(ctx context.Context, api API) tea.Cmd {
	return func() tea.Msg {
		p, err := api.RiskPolicy(ctx)
		return policyMsg{p, err}
	}
}

func fetchUser(ctx context.Context, api API, query string) tea.Cmd {
	return func() tea.Msg {
		m := userMsg{query: query}
		m.user, m.err = api.GetUser(ctx, query)
		if m.err != nil {
			return m
		}
		if m.factors, m.err = api.ListFactors(ctx, m.user.ID); m.err != nil {
			return m
		}
		if m.risk, m.err = api.UserRisk(ctx, m.user.ID, 10); m.err != nil {
			return m
		}
		if m.signIns, m.err = api.UserSignIns(ctx, m.user.ID, 10); m.err != nil {
			return m
		}
		m.sessions, m.err = api.UserSessions(ctx, m.user.ID)
		return m
	}
}

func fetchPush(ctx context.Context, api API) tea.Cmd {
	return func() tea.Msg {
		p, err := api.PendingPush(ctx)
		return pushMsg{push: p, at: time.Now(), err: err}
	}
}

func tickClock() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return clockMsg(t) })
}
