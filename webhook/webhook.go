package webhook

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/store"
)

// Event types.
const (
	EventProfileUpdated = "profile.updated"
	EventConsentChanged = "consent.changed"
	EventUserErased     = "user.erased"
)

var allEvents = []string{EventProfileUpdated, EventConsentChanged, EventUserErased}

// Request headers.
const (
	HeaderID        = "Assent-Webhook-Id"
	HeaderTimestamp = "Assent-Webhook-Timestamp"
	HeaderSignature = "Assent-Webhook-Signature"
)

// Endpoint is one downstream receiver.
type Endpoint struct {
	// ID names the endpoint in the admin API and in delivery ids.
	ID  string `yaml:"id" json:"id"`
	URL string `yaml:"url" json:"url"`
	// Secret keys the HMAC-SHA256 signature (at least 32 characters).
	Secret string `yaml:"secret" json:"-"`
	// Events to send (default: all).
	Events []string `yaml:"events" json:"events,omitempty"`
	// Purposes the receiver uses data for: a payload carries a user's
	// data only as far as the user consents to them.
	Purposes []string `yaml:"purposes" json:"purposes,omitempty"`
}

var endpointIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate reports every problem with e, each prefixed with where.
func (e Endpoint) Validate(where string) []error {
	var errs []error
	bad := func(f, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", where, f, fmt.Sprintf(format, a...)))
	}
	if !endpointIDPattern.MatchString(e.ID) {
		bad("id", "%q must be 1 to 32 lower-case letters, digits, _ or -", e.ID)
	}
	if u, err := url.Parse(e.URL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		bad("url", "%q must be an absolute http(s) URL", e.URL)
	}
	if len(e.Secret) < 32 {
		bad("secret", "must be at least 32 characters")
	}
	for _, ev := range e.Events {
		if !slices.Contains(allEvents, ev) {
			bad("events", "%q is not one of %v", ev, allEvents)
		}
	}
	return errs
}

func (e Endpoint) wants(event string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, event)
}

// Config configures a Dispatcher.
type Config struct {
	Store     store.Webhooks
	Endpoints []Endpoint
	// AEAD seals payloads at rest (they hold personal data).
	AEAD   cipher.AEAD
	Logger *slog.Logger
	// Client sends the requests (a client with a 10 s timeout by default).
	Client *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// MinBackoff (default 10 s) doubles after each failure up to
	// MaxBackoff (default 1 h).
	MinBackoff, MaxBackoff time.Duration
}

// Dispatcher queues events and delivers them. It is safe for concurrent
// use; Run must run in one goroutine per store.
type Dispatcher struct {
	c    Config
	kick chan struct{}
}

// New returns a Dispatcher.
func New(c Config) *Dispatcher {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 10 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	return &Dispatcher{c: c, kick: make(chan struct{}, 1)}
}

// Endpoints returns the configured endpoints.
func (d *Dispatcher) Endpoints() []Endpoint { return d.c.Endpoints }

// Enqueue stores the event for every endpoint that wants it, with the
// payload payload builds for that endpoint, in one store transaction, and
// wakes the delivery loop. userID is what the outbox records the event
// under (EraseUser removes a user's pending events).
func (d *Dispatcher) Enqueue(ctx context.Context, event, userID string, payload func(Endpoint) (any, error)) error {
	if d == nil {
		return nil
	}
	now := d.c.Now().UTC()
	var ds []store.WebhookDelivery
	for _, ep := range d.c.Endpoints {
		if !ep.wants(event) {
			continue
		}
		p, err := payload(ep)
		if err != nil {
			return fmt.Errorf("build %s payload for %s: %w", event, ep.ID, err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		ds = append(ds, store.WebhookDelivery{Endpoint: ep.ID, Event: event, UserID: userID, CreatedAt: now, NextAttempt: now,
			Data: d.seal(b, ep.ID, event, userID)})
	}
	if len(ds) == 0 {
		return nil
	}
	if _, err := d.c.Store.EnqueueWebhooks(ctx, ds); err != nil {
		return err
	}
	select {
	case d.kick <- struct{}{}:
	default:
	}
	return nil
}

func aad(endpoint, event, userID string) []byte {
	return []byte("webhook\x00" + endpoint + "\x00" + event + "\x00" + userID)
}

func (d *Dispatcher) seal(plain []byte, endpoint, event, userID string) []byte {
	nonce := make([]byte, d.c.AEAD.NonceSize(), d.c.AEAD.NonceSize()+len(plain)+d.c.AEAD.Overhead())
	rand.Read(nonce)
	return d.c.AEAD.Seal(nonce, nonce, plain, aad(endpoint, event, userID))
}

func (d *Dispatcher) open(w store.WebhookDelivery) ([]byte, error) {
	n := d.c.AEAD.NonceSize()
	if len(w.Data) < n {
		return nil, errors.New("sealed payload too short")
	}
	return d.c.AEAD.Open(nil, w.Data[:n], w.Data[n:], aad(w.Endpoint, w.Event, w.UserID))
}

// Run delivers until ctx ends: each endpoint's events in order, the next
// one only after the previous was accepted, a failed one again after a
// backoff. A delivery in progress finishes (within the client's timeout)
// before Run returns.
func (d *Dispatcher) Run(ctx context.Context) {
	for {
		wait := d.c.MaxBackoff
		for _, ep := range d.c.Endpoints {
			if next, ok := d.deliverEndpoint(ctx, ep); ok {
				wait = min(wait, max(next.Sub(d.c.Now()), 0))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// deliverEndpoint sends the endpoint's due events in order and reports
// when its first pending one is next due, if it has one.
func (d *Dispatcher) deliverEndpoint(ctx context.Context, ep Endpoint) (time.Time, bool) {
	for ctx.Err() == nil {
		ps, err := d.c.Store.PendingWebhooks(ctx, ep.ID, 1)
		if err != nil {
			if ctx.Err() == nil {
				d.c.Logger.ErrorContext(ctx, "read webhook outbox failed", "endpoint", ep.ID, "err", err)
			}
			return d.c.Now().Add(d.c.MinBackoff), true
		}
		if len(ps) == 0 {
			return time.Time{}, false
		}
		w := ps[0]
		now := d.c.Now()
		if w.NextAttempt.After(now) {
			return w.NextAttempt, true
		}
		// The delivery in progress is not cut short by shutdown: it ends
		// within the client's timeout and its outcome is recorded.
		err = d.send(context.WithoutCancel(ctx), ep, w)
		rctx := context.WithoutCancel(ctx)
		if err == nil {
			if err := d.c.Store.MarkWebhookDelivered(rctx, ep.ID, w.Seq, d.c.Now()); err != nil {
				d.c.Logger.ErrorContext(ctx, "record webhook delivery failed", "endpoint", ep.ID, "seq", w.Seq, "err", err)
				return d.c.Now().Add(d.c.MinBackoff), true
			}
			continue
		}
		backoff := d.c.MinBackoff << min(w.Attempts, 20)
		if backoff <= 0 || backoff > d.c.MaxBackoff {
			backoff = d.c.MaxBackoff
		}
		next := d.c.Now().Add(backoff)
		d.c.Logger.WarnContext(ctx, "webhook delivery failed", "endpoint", ep.ID, "seq", w.Seq, "attempt", w.Attempts+1, "retry_in", backoff, "err", err)
		if err := d.c.Store.RetryWebhook(rctx, ep.ID, w.Seq, next, truncate(err.Error(), 200)); err != nil {
			d.c.Logger.ErrorContext(ctx, "record webhook failure failed", "endpoint", ep.ID, "err", err)
		}
		return next, true
	}
	return time.Time{}, false
}

// envelope is the request body.
type envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// DeliveryID is the id of a delivery, the same on every attempt, so a
// receiver can drop duplicates.
func DeliveryID(endpoint string, seq uint64) string {
	return endpoint + "-" + strconv.FormatUint(seq, 10)
}

func (d *Dispatcher) send(ctx context.Context, ep Endpoint, w store.WebhookDelivery) error {
	data, err := d.open(w)
	if err != nil {
		return fmt.Errorf("open payload: %w", err)
	}
	id := DeliveryID(ep.ID, w.Seq)
	body, err := json.Marshal(envelope{ID: id, Type: w.Event, CreatedAt: w.CreatedAt, Data: data})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(d.c.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Assent-Webhooks/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, "v1="+Sign(ep.Secret, id, ts, body))
	resp, err := d.c.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// Sign returns the hex HMAC-SHA256 of id, timestamp and body under secret.
func Sign(secret, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: bad signature")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance")
)

// Verify checks a received request's signature and that its timestamp is
// within tolerance of now, so a captured request cannot be replayed later.
// Receivers should also remember the ids they processed (the id is the
// same on every retry) to drop duplicates.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts := h.Get(HeaderID), h.Get(HeaderTimestamp)
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "v1=")
	if !ok || id == "" {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(Sign(secret, id, ts, body))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
