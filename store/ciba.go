package store

import (
	"context"
	"time"
)

// CIBA request states.
const (
	CIBAPending  = "pending"
	CIBAApproved = "approved"
	CIBADenied   = "denied"
	// CIBARedeemed: the tokens were issued; the auth_req_id is spent.
	CIBARedeemed = "redeemed"
)

// CIBARequest is an OpenID CIBA backchannel authentication request, from
// the backchannel endpoint to the token exchange. Only the SHA-256 of the
// auth_req_id is kept.
type CIBARequest struct {
	IDHash   []byte `json:"id_hash"`
	ClientID string `json:"client_id"`
	// UserID is empty when the hint named nobody, or a user the server
	// would not ask (the audit log says why): such a request is never
	// approved and simply expires.
	UserID string   `json:"user_id,omitempty"`
	Scopes []string `json:"scopes"`
	// ACRValues are the client's acr_values, in its order of preference.
	ACRValues      []string `json:"acr_values,omitempty"`
	BindingMessage string   `json:"binding_message,omitempty"`
	// AuthorizationDetails is the validated RFC 9396 JSON array, exactly as
	// it will be returned in the tokens.
	AuthorizationDetails []byte `json:"authorization_details,omitempty"`
	// Mode is "poll" or "ping".
	Mode string `json:"mode"`
	// NotificationToken is the client's client_notification_token for
	// ping, sealed by the caller.
	NotificationToken []byte `json:"notification_token,omitempty"`
	// PushRequestID is the approval request sent to the user's app.
	PushRequestID string `json:"push_request_id,omitempty"`
	// Status is CIBAPending, CIBAApproved, CIBADenied or CIBARedeemed.
	Status string `json:"status"`
	// Reason is a stable code for a denial (shown to the client).
	Reason string `json:"reason,omitempty"`
	// Set on approval: the methods, level and time of the authentication,
	// and the PSD2 exemption the risk engine applied, if any.
	AMR       []string  `json:"amr,omitempty"`
	ACR       string    `json:"acr,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	Exemption string    `json:"exemption,omitempty"`
	// Interval is the minimum number of seconds between token requests.
	Interval   int       `json:"interval"`
	LastPollAt time.Time `json:"last_poll_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// CheckAt, when set, is when the background worker should next look at
	// the request (a ping to deliver or retry, a decision to pick up).
	CheckAt time.Time `json:"check_at,omitzero"`
	// Notified is set once the client's notification endpoint accepted the
	// ping; NotifyAttempts counts the tries.
	Notified       bool `json:"notified,omitempty"`
	NotifyAttempts int  `json:"notify_attempts,omitempty"`
	// Version increases by one on every successful update.
	Version uint64 `json:"version"`
}

// CIBA stores backchannel authentication requests. Requests are short-lived
// and keyed by the hash of their auth_req_id; the caller removes expired ones
// with DeleteExpiredCIBARequests.
type CIBA interface {
	// CreateCIBARequest inserts r with Version 1; ErrExists if its IDHash is
	// taken.
	CreateCIBARequest(ctx context.Context, r CIBARequest) error
	// GetCIBARequest returns the request, or ErrNotFound.
	GetCIBARequest(ctx context.Context, idHash []byte) (CIBARequest, error)
	// UpdateCIBARequest atomically reads the request, applies fn and writes
	// the result, as UpdateUser does (fn may run more than once; an error
	// from fn writes nothing and is returned). IDHash cannot change. This is
	// how an auth_req_id is redeemed exactly once.
	UpdateCIBARequest(ctx context.Context, idHash []byte, fn func(CIBARequest) (CIBARequest, error)) (CIBARequest, error)
	// DueCIBARequests returns up to limit requests whose CheckAt is set and
	// not after now, earliest first.
	DueCIBARequests(ctx context.Context, now time.Time, limit int) ([]CIBARequest, error)
	// DeleteExpiredCIBARequests removes the requests that expired before
	// now and reports how many.
	DeleteExpiredCIBARequests(ctx context.Context, now time.Time) (int, error)
}
