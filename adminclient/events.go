package adminclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EventFilter narrows the event stream; empty fields match everything.
type EventFilter struct {
	// Kinds are audit kinds ("risk.assessed") or prefixes ending in a dot
	// ("signin.").
	Kinds []string
	// User is a user id or e-mail address (actor or subject).
	User string
	// Decision is a risk decision: allow, challenge or deny.
	Decision string
}

// StreamItem is one thing the event stream delivers.
type StreamItem struct {
	// Type is "open" once the server has accepted the stream, "audit" for
	// an event, "heartbeat" while nothing happens.
	Type string
	// Seq is the event's sequence number, or for a heartbeat how far the
	// server has read the log (events the filter skipped included).
	Seq   uint64
	Event AuditEvent
}

// ErrDropped means the server ended the stream because the client read
// too slowly; resume from the last Seq seen.
var ErrDropped = errors.New("event stream dropped by the server: the client fell behind")

// ErrServerClosing means the server ended the stream because it is
// shutting down; reconnect and resume from the last Seq seen.
var ErrServerClosing = errors.New("the server is shutting down")

// Events streams the audit log from the event after seq after, calling fn
// for each item until ctx ends, fn returns an error, or the stream breaks;
// it always returns a non-nil error (ctx.Err() when cancelled). To resume
// without missing an event, call it again with the last Seq fn saw.
func (c *Client) Events(ctx context.Context, after uint64, f EventFilter, fn func(StreamItem) error) error {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	for _, k := range f.Kinds {
		q.Add("kind", k)
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Decision != "" {
		q.Set("decision", f.Decision)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/admin/v1/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	// A stream lasts as long as ctx: no overall client timeout.
	hc := &http.Client{}
	if c.HTTP != nil {
		hc.Transport = c.HTTP.Transport
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach the server at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(b, p) != nil || p.Title == "" {
			p.Title = resp.Status
		}
		return p
	}
	if err := fn(StreamItem{Type: "open", Seq: after}); err != nil {
		return err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var typ, data string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				typ = value
			case "data":
				data += value
			}
			continue
		}
		item := StreamItem{Type: typ}
		d := data
		typ, data = "", ""
		switch item.Type {
		case "audit":
			if err := json.Unmarshal([]byte(d), &item.Event); err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
			item.Seq = item.Event.Seq
		case "heartbeat", "dropped", "closing":
			var h struct {
				Seq uint64 `json:"seq"`
			}
			json.Unmarshal([]byte(d), &h)
			item.Seq = h.Seq
			switch item.Type {
			case "dropped":
				return ErrDropped
			case "closing":
				return ErrServerClosing
			}
		default:
			continue
		}
		if err := fn(item); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return io.ErrUnexpectedEOF
}

// Stats are the server's sign-in statistics, counted in memory from the
// audit stream since it started (so at most the last hour).
type Stats struct {
	Time    time.Time     `json:"time"`
	LastSeq uint64        `json:"last_seq"`
	Windows []StatsWindow `json:"windows"`
	// AssessmentsPerMinute and SignInsPerMinute cover the last hour,
	// oldest first.
	AssessmentsPerMinute []int `json:"assessments_per_minute"`
	SignInsPerMinute     []int `json:"sign_ins_per_minute"`
	// ApprovalsPerMinute and DenialsPerMinute count decided push
	// requests over the last hour, oldest first.
	ApprovalsPerMinute []int        `json:"approvals_per_minute"`
	DenialsPerMinute   []int        `json:"denials_per_minute"`
	TopReasons         []StatsCount `json:"top_reasons"`
	TopIPs             []StatsCount `json:"top_ips"`
	TopCountries       []StatsCount `json:"top_countries"`
}

// StatsWindow sums the last Minutes minutes.
type StatsWindow struct {
	Minutes       int     `json:"minutes"`
	SignIns       int     `json:"sign_ins"`
	Failures      int     `json:"failures"`
	Assessments   int     `json:"assessments"`
	Challenges    int     `json:"challenges"`
	Denies        int     `json:"denies"`
	ChallengeRate float64 `json:"challenge_rate"`
	DenyRate      float64 `json:"deny_rate"`
	// SignInLatency is how long the server spent on the request that
	// completed each sign-in.
	SignInLatency Latency `json:"sign_in_latency_ms"`
	// Push approval requests: created, approved, denied (reports, "this
	// wasn't me", included), and the time from creation to decision.
	PushRequests    int     `json:"push_requests"`
	Approvals       int     `json:"approvals"`
	Denials         int     `json:"denials"`
	Reports         int     `json:"reports"`
	ApprovalLatency Latency `json:"approval_latency_ms"`
}

// Latency sums up durations in milliseconds: how many, and their
// percentiles (within 5%).
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
}

// StatsCount is one entry of a top list over the last hour.
type StatsCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Stats returns the current statistics.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/stats", nil, &s)
	return s, err
}
