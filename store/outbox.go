package store

import (
	"context"
	"time"
)

// Mail is one message waiting in the outbox. The mail package owns what
// Data means: the envelope and the message, sealed before they get here, so
// the store never holds addresses or links in the clear.
type Mail struct {
	// ID is unique and orders the outbox: callers make it sortable by
	// creation time.
	ID string `json:"id"`
	// Data is the sealed envelope and message.
	Data      []byte    `json:"data"`
	CreatedAt time.Time `json:"created_at"`
	// NextAttempt is when the message is next due for delivery. A claimed
	// message's NextAttempt is the end of its lease.
	NextAttempt time.Time `json:"next_attempt"`
	// Attempts counts delivery attempts begun (claims).
	Attempts int `json:"attempts"`
	// LastError is the last delivery failure: a short, non-personal text.
	LastError string `json:"last_error,omitempty"`
}

// Outbox stores mail waiting for delivery. Delivery is claim, send, then
// MarkMailSent or RetryMail; a message leaves the outbox only through
// MarkMailSent, so a crash or an outage loses none.
type Outbox interface {
	// EnqueueMail inserts m; ErrExists if its ID is taken.
	EnqueueMail(ctx context.Context, m Mail) error
	// ClaimMail atomically takes up to limit messages whose NextAttempt is
	// not after now, oldest ID first, and leases them: their NextAttempt
	// becomes now+lease and Attempts grows by one, in the same transaction,
	// so concurrent claimers never get the same message within a lease. It
	// returns the claimed messages as stored after the claim.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error)
	// MarkMailSent removes the message atomically; ErrNotFound if it is no
	// longer there (another deliverer marked it first).
	MarkMailSent(ctx context.Context, id string) error
	// RetryMail sets when the message is next due and why it failed;
	// ErrNotFound if it is no longer there.
	RetryMail(ctx context.Context, id string, next time.Time, lastError string) error
	// ListMail returns up to limit messages with ID greater than after, in
	// ID order, for operators and tests.
	ListMail(ctx context.Context, after string, limit int) ([]Mail, error)
}
