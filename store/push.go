package store

import (
	"context"
	"time"
)

// Push request kinds and states.
const (
	PushSignIn  = "signin"
	PushPayment = "payment"

	PushPending  = "pending"
	PushApproved = "approved"
	PushDenied   = "denied"
)

// PushRequest is an approval request sent to a user's app devices. The push
// package owns what the fields mean; the store keeps them and decides them
// atomically.
type PushRequest struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// Kind is PushSignIn or PushPayment.
	Kind string `json:"kind"`
	// RPName is the relying party (or "Assent" for its own sign-in).
	RPName  string `json:"rp_name,omitempty"`
	IP      string `json:"ip,omitempty"`
	Country string `json:"country,omitempty"`
	Browser string `json:"browser,omitempty"`
	// Amount (a decimal string exactly as displayed), Currency (ISO 4217)
	// and Payee are set for payments.
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	Payee    string `json:"payee,omitempty"`
	// Nonce is random and signed into the decision.
	Nonce []byte `json:"nonce"`
	// Number is the two-digit number the waiting browser shows; Choices are
	// the three the app offers, Number among them.
	Number    int       `json:"number"`
	Choices   []int     `json:"choices"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Status is PushPending, PushApproved or PushDenied.
	Status    string    `json:"status"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	// DeviceID is the app device whose signed decision was accepted.
	DeviceID string `json:"device_id,omitempty"`
	// NotMe reports a denial with "this wasn't me".
	NotMe bool `json:"not_me,omitempty"`
	// ConsumedAt is when an approved request was spent on the sign-in or
	// payment it was created for; an approval is good for one use.
	ConsumedAt time.Time `json:"consumed_at,omitzero"`
	// Version increases by one on every successful update.
	Version uint64 `json:"version"`
}

// PendingAt reports whether r still waits for a decision at now.
func (r PushRequest) PendingAt(now time.Time) bool {
	return r.Status == PushPending && now.Before(r.ExpiresAt)
}

// Push stores approval requests. DeleteUser removes a user's requests with
// the user.
type Push interface {
	// CreatePushRequest inserts r with Version 1. In the same transaction it
	// fails with ErrExists if the user has a request with the same RPName
	// still pending at now (at most one per user and relying party) or r.ID
	// is taken, and with ErrNotFound if the user does not exist. Requests of
	// the user that are no longer pending at now are removed.
	CreatePushRequest(ctx context.Context, r PushRequest, now time.Time) error
	// GetPushRequest returns one request of the user, or ErrNotFound.
	GetPushRequest(ctx context.Context, userID, id string) (PushRequest, error)
	// ListPushRequests returns the user's requests, oldest first.
	ListPushRequests(ctx context.Context, userID string) ([]PushRequest, error)
	// UpdatePushRequest atomically reads the request, applies fn and writes
	// the result, as UpdateUser does (fn may run more than once; an error
	// from fn writes nothing and is returned). ID and UserID cannot change.
	// This is how the first valid decision wins and every later one sees
	// the request decided.
	UpdatePushRequest(ctx context.Context, userID, id string, fn func(PushRequest) (PushRequest, error)) (PushRequest, error)
	// ListPendingPushRequests returns every user's requests pending at now,
	// soonest to expire first (then by id), at most limit of them (limit <=
	// 0 means 1000), and how many more are pending. It reads every stored
	// request: for rare listings such as an operator's after a restart,
	// never per approval.
	ListPendingPushRequests(ctx context.Context, now time.Time, limit int) (rs []PushRequest, more int, err error)
}
