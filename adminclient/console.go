package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// PendingPush is an approval request still waiting for the user's app.
type PendingPush struct {
	ID      string `json:"id"`
	UserID  string `json:"user_id"`
	Email   string `json:"email,omitempty"`
	Kind    string `json:"kind"` // signin or payment
	RPName  string `json:"rp_name,omitempty"`
	IP      string `json:"ip,omitempty"`
	Country string `json:"country,omitempty"`
	Browser string `json:"browser,omitempty"`
	// Payments only.
	Amount    string    `json:"amount,omitempty"`
	Currency  string    `json:"currency,omitempty"`
	Payee     string    `json:"payee,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// ExpiresIn is the seconds left at the answer's Time, so a client
	// counts down without trusting its own clock to agree with the server's.
	ExpiresIn float64 `json:"expires_in"`
}

// PushDecision is a recently decided approval request.
type PushDecision struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email,omitempty"`
	// Status is approved or denied, or locked: the user's approvals were
	// locked after repeated denials.
	Status string `json:"status"`
	// NotMe is a denial the user reported with "this wasn't me".
	NotMe bool `json:"not_me,omitempty"`
	// LatencyMs is the time from the request to the decision (0 when the
	// server did not see the request made, before a restart).
	LatencyMs float64 `json:"latency_ms,omitempty"`
}

// PushOverview is the answer of GET /admin/v1/push/pending.
type PushOverview struct {
	Time time.Time `json:"time"`
	// Pending is sorted soonest to expire first.
	Pending []PendingPush `json:"pending"`
	// More counts waiting requests left out of a very long list.
	More int `json:"more,omitempty"`
	// Recent are the latest decisions, newest first.
	Recent []PushDecision `json:"recent"`
}

// PendingPush returns the approval requests waiting now and the latest
// decisions.
func (c *Client) PendingPush(ctx context.Context) (PushOverview, error) {
	var out PushOverview
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/push/pending", nil, &out)
	return out, err
}

// SignOutResult reports what signing a user out everywhere ended.
type SignOutResult struct {
	Sessions      int `json:"sessions"`
	RefreshTokens int `json:"refresh_tokens"`
}

// SignOutUser ends every browser session of the user and revokes the
// refresh tokens issued to their applications.
func (c *Client) SignOutUser(ctx context.Context, user string) (SignOutResult, error) {
	var out SignOutResult
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/signout", nil, &out)
	return out, err
}

// SignIn is one of a user's successful sign-ins.
type SignIn struct {
	Time     time.Time `json:"time"`
	IP       string    `json:"ip,omitempty"`
	Country  string    `json:"country,omitempty"`
	City     string    `json:"city,omitempty"`
	DeviceID string    `json:"device_id,omitempty"`
	Browser  string    `json:"browser,omitempty"`
	OS       string    `json:"os,omitempty"`
	// Strong: the sign-in completed strong authentication.
	Strong bool `json:"strong,omitempty"`
}

// UserSignIns returns the user's recent sign-ins, newest first.
func (c *Client) UserSignIns(ctx context.Context, user string, limit int) ([]SignIn, error) {
	var out struct {
		SignIns []SignIn `json:"sign_ins"`
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/signins?"+q.Encode(), nil, &out)
	return out.SignIns, err
}

// Session is one of a user's browser sessions.
type Session struct {
	CreatedAt time.Time `json:"created_at"`
	// AuthTime is when the user last authenticated in it.
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
	// AMR lists the methods used (RFC 8176 values).
	AMR       []string `json:"amr,omitempty"`
	IP        string   `json:"ip,omitempty"`
	UserAgent string   `json:"user_agent,omitempty"`
}

// UserSessions returns the user's unexpired browser sessions, newest
// first.
func (c *Client) UserSessions(ctx context.Context, user string) ([]Session, error) {
	var out struct {
		Sessions []Session `json:"sessions"`
	}
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/sessions", nil, &out)
	return out.Sessions, err
}
