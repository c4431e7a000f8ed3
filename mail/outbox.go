package mail

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/mail"
	"sync"
	"time"

	"github.com/assent-auth/assent/store"
)

// Config configures an Outbox.
type Config struct {
	Store store.Outbox
	// AEAD seals messages at rest (addresses and links never sit in the
	// store in the clear).
	AEAD   cipher.AEAD
	Sender Sender
	// From is the sender, "Name <address>" or a bare address.
	From string
	// Host names the server in Message-IDs.
	Host   string
	Logger *slog.Logger
	Now    func() time.Time
	// MinBackoff is the wait after the first failure; it doubles with each
	// further failure up to MaxBackoff (defaults 30 s and 1 h).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Lease is how long a claimed message is not handed out again; it must
	// outlast one delivery (default 5 min).
	Lease time.Duration
	// Poll is how often the outbox is checked when nothing wakes it
	// (default 5 s).
	Poll time.Duration
	// MaxAge is how long a message is retried before it is given up, with
	// an error in the log (default 72 h).
	MaxAge time.Duration
}

// Outbox queues messages in the store and delivers them. It is safe for
// concurrent use; run one Run loop per store.
type Outbox struct {
	cfg  Config
	from *mail.Address
	log  *slog.Logger
	now  func() time.Time
	wake chan struct{}
	// mu keeps a Deliver pass alone, so Run and a test's explicit pass
	// never send the same claim twice.
	mu sync.Mutex
}

// New checks c and returns an Outbox.
func New(c Config) (*Outbox, error) {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("mail store: required"))
	}
	if c.AEAD == nil {
		errs = append(errs, errors.New("mail AEAD: required"))
	}
	if c.Sender == nil {
		errs = append(errs, errors.New("mail sender: required"))
	}
	from, err := parseFrom(c.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("mail from: %q is not an address", c.From))
	}
	if c.Host == "" {
		c.Host = "localhost"
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	o := &Outbox{cfg: c, from: from, log: c.Logger, now: c.Now, wake: make(chan struct{}, 1)}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.cfg.MinBackoff, 30*time.Second)
	def(&o.cfg.MaxBackoff, time.Hour)
	def(&o.cfg.Lease, 5*time.Minute)
	def(&o.cfg.Poll, 5*time.Second)
	def(&o.cfg.MaxAge, 72*time.Hour)
	return o, nil
}

// CheckFrom reports whether s can be a sender: "Name <address>" or a bare
// address, without line breaks.
func CheckFrom(s string) error {
	_, err := parseFrom(s)
	return err
}

func parseFrom(s string) (*mail.Address, error) {
	if len(s) > maxName+maxAddress {
		return nil, invalid("from too long")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, invalid("bad from address")
	}
	if err := headerText("from", a.Name, maxName); err != nil {
		return nil, err
	}
	if _, err := parseAddress(a.Address); err != nil {
		return nil, err
	}
	return a, nil
}

// Enqueue composes m and stores it for delivery; it is delivered even if
// the server stops right after Enqueue returns. It returns the message id.
// A bad address or header value fails with ErrInvalidMessage.
func (o *Outbox) Enqueue(ctx context.Context, m Message) (string, error) {
	now := o.now().UTC()
	id := newID(now)
	data, err := compose(o.from, m, id, o.cfg.Host, now)
	if err != nil {
		return "", err
	}
	env, err := json.Marshal(Envelope{ID: id, From: o.from.Address, To: m.To, Data: data})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, o.cfg.AEAD.NonceSize())
	rand.Read(nonce)
	sealed := o.cfg.AEAD.Seal(nonce, nonce, env, []byte(id))
	if err := o.cfg.Store.EnqueueMail(ctx, store.Mail{ID: id, Data: sealed, CreatedAt: now, NextAttempt: now}); err != nil {
		return "", fmt.Errorf("enqueue mail: %w", err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return id, nil
}

func (o *Outbox) open(m store.Mail) (Envelope, error) {
	ns := o.cfg.AEAD.NonceSize()
	var e Envelope
	if len(m.Data) < ns {
		return e, errors.New("sealed message too short")
	}
	plain, err := o.cfg.AEAD.Open(nil, m.Data[:ns], m.Data[ns:], []byte(m.ID))
	if err != nil {
		return e, errors.New("sealed message cannot be opened")
	}
	err = json.Unmarshal(plain, &e)
	return e, err
}

// Run delivers until ctx is done: at once when a message is queued, and
// every Poll for retries. It returns after the delivery in progress ends.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(o.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := o.Deliver(ctx); err != nil && ctx.Err() == nil {
			o.log.WarnContext(ctx, "mail delivery pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
	}
}

// Deliver makes one pass over the messages that are due and reports how
// many were delivered. Each message is claimed, sent, and then removed in
// one transaction, or rescheduled with exponential backoff.
//
// A message is sent once: a claim keeps other passes off it for the lease,
// and it leaves the outbox in the same step that records it as sent. The
// one gap no mail protocol closes is a crash after the server accepted the
// message and before that step; the message is then sent again with the
// same Message-ID, which receivers use to drop duplicates.
//
// Nobody waits for these writes, so they are lazy (store.WithLazyCommit):
// they may wait a few milliseconds to share a commit with other writes.
func (o *Outbox) Deliver(ctx context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ctx = store.WithLazyCommit(ctx)
	sent := 0
	for {
		claimed, err := o.cfg.Store.ClaimMail(ctx, o.now(), o.cfg.Lease, 20)
		if err != nil || len(claimed) == 0 {
			return sent, err
		}
		for _, m := range claimed {
			if ctx.Err() != nil {
				return sent, ctx.Err()
			}
			if o.deliverOne(ctx, m) {
				sent++
			}
		}
	}
}

func (o *Outbox) deliverOne(ctx context.Context, m store.Mail) bool {
	e, err := o.open(m)
	if err == nil {
		err = o.cfg.Sender.Send(ctx, e)
	}
	if err == nil {
		if err := o.cfg.Store.MarkMailSent(context.WithoutCancel(ctx), m.ID); err != nil {
			o.log.ErrorContext(ctx, "mail sent but not marked; it may be sent again", "mail_id", m.ID, "err", err)
			return true
		}
		o.log.InfoContext(ctx, "mail delivered", "mail_id", m.ID, "attempts", m.Attempts)
		return true
	}
	now := o.now()
	if errors.Is(err, ErrPermanent) || now.Sub(m.CreatedAt) > o.cfg.MaxAge {
		o.log.ErrorContext(ctx, "mail given up", "mail_id", m.ID, "attempts", m.Attempts, "err", err)
		if err := o.cfg.Store.MarkMailSent(context.WithoutCancel(ctx), m.ID); err != nil {
			o.log.ErrorContext(ctx, "drop mail failed", "mail_id", m.ID, "err", err)
		}
		return false
	}
	next := now.Add(o.backoff(m.Attempts))
	msg := truncate(err.Error(), 200)
	if err := o.cfg.Store.RetryMail(context.WithoutCancel(ctx), m.ID, next, msg); err != nil {
		o.log.ErrorContext(ctx, "reschedule mail failed", "mail_id", m.ID, "err", err)
	}
	o.log.WarnContext(ctx, "mail delivery failed; will retry", "mail_id", m.ID, "attempts", m.Attempts,
		"retry_at", next.UTC().Format(time.RFC3339), "err", msg)
	return false
}

// backoff is MinBackoff doubled per earlier attempt, capped at MaxBackoff,
// less up to a tenth at random so many messages do not retry in step.
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < attempts && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return d - time.Duration(mrand.Int64N(int64(d)/10+1))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
