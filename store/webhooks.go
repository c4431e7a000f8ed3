package store

import (
	"context"
	"time"
)

// WebhookDelivery is one event on its way to one downstream endpoint (a
// CRM, a marketing tool). The webhook package owns what Data means: the
// payload, sealed before it gets here. Delivered records are kept, with
// Data removed, as the endpoint's delivery log.
type WebhookDelivery struct {
	// Seq is assigned by the store: increasing across the whole store, so
	// an endpoint's deliveries sort in the order the events happened.
	Seq      uint64 `json:"seq"`
	Endpoint string `json:"endpoint"`
	// Event is the event type ("profile.updated", "consent.changed",
	// "user.erased").
	Event string `json:"event"`
	// UserID is the user the event is about; EraseUser removes the user's
	// pending deliveries and pseudonymises the delivered ones.
	UserID      string    `json:"user_id"`
	Data        []byte    `json:"data,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	NextAttempt time.Time `json:"next_attempt"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	// DeliveredAt is set once the endpoint accepted the event.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// Webhooks is the persistent outbox of downstream events: an event is
// stored in the same call that queues it, and leaves the pending set only
// when MarkWebhookDelivered records that its endpoint accepted it, so a
// restart loses none.
type Webhooks interface {
	// EnqueueWebhooks appends ds in one transaction, assigning each its
	// Seq in order, and returns them as stored.
	EnqueueWebhooks(ctx context.Context, ds []WebhookDelivery) ([]WebhookDelivery, error)
	// PendingWebhooks returns up to limit undelivered deliveries of the
	// endpoint, oldest first.
	PendingWebhooks(ctx context.Context, endpoint string, limit int) ([]WebhookDelivery, error)
	// RetryWebhook records a failed attempt: Attempts grows by one and the
	// delivery is next due at next. ErrNotFound if there is no such
	// pending delivery.
	RetryWebhook(ctx context.Context, endpoint string, seq uint64, next time.Time, lastError string) error
	// MarkWebhookDelivered records that the endpoint accepted the delivery
	// at t, counting the attempt and dropping Data. ErrNotFound if there is
	// no such pending delivery.
	MarkWebhookDelivered(ctx context.Context, endpoint string, seq uint64, t time.Time) error
	// ListWebhooks returns up to limit deliveries of the endpoint, delivered
	// ones included, with Seq greater than after, in order.
	ListWebhooks(ctx context.Context, endpoint string, after uint64, limit int) ([]WebhookDelivery, error)
}
