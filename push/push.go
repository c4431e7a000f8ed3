package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/store"
)

// Errors callers branch on. Every refusal of a decision is one of these,
// audited as push.decision_refused with Reason(err).
var (
	ErrPending        = errors.New("push: a request is already pending for this user")
	ErrExpired        = errors.New("push: request expired")
	ErrAlreadyDecided = errors.New("push: request already decided")
	ErrUnknownDevice  = errors.New("push: unknown or revoked device")
	ErrUnknownRequest = errors.New("push: no such request for this device's user")
	ErrBadSignature   = errors.New("push: signature does not verify")
	ErrWrongNumber    = errors.New("push: wrong number picked")
	ErrTampered       = errors.New("push: signed amount, currency or payee differ from the request")
)

// Reason returns the audit reason code for a refusal, or "error".
func Reason(err error) string {
	for e, r := range map[error]string{
		ErrMalformed: "malformed", ErrExpired: "expired", ErrAlreadyDecided: "already_decided",
		ErrUnknownDevice: "unknown_device", ErrUnknownRequest: "unknown_request",
		ErrBadSignature: "bad_signature", ErrWrongNumber: "wrong_number", ErrTampered: "tampered",
		ErrPending: "already_pending",
	} {
		if errors.Is(err, e) {
			return r
		}
	}
	return "error"
}

// Store is what push keeps and reports through.
type Store interface {
	store.Push
	AppendAudit(ctx context.Context, e store.AuditEvent) (uint64, error)
	SetLastReport(ctx context.Context, userID string, t time.Time) error
}

// DeviceKeys finds an enrolled, unrevoked app device by id
// (devices.Service implements it). It returns an error wrapping
// devices.ErrNotFound for an unknown or revoked device.
type DeviceKeys interface {
	AppDeviceKey(ctx context.Context, deviceID string) (devices.DeviceKey, error)
}

// Waker wakes a user's devices out of band (FCM) when a request is
// created; it bounds its own time.
type Waker interface {
	Wake(ctx context.Context, r store.PushRequest) int
}

// Config configures a Service.
type Config struct {
	Store   Store
	Devices DeviceKeys
	// Waker, when set, is called for every new request besides the
	// in-process fan-out to connected devices.
	Waker Waker
	// TTL is how long a request waits for a decision (default 120 s).
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if c.Devices == nil {
		errs = append(errs, errors.New("devices: required"))
	}
	if c.TTL < 0 || c.TTL > 10*time.Minute {
		errs = append(errs, errors.New("ttl: must be between 0 (default 120 s) and 10 minutes"))
	}
	return errors.Join(errs...)
}

// Service creates requests, fans them out and verifies decisions. It is
// safe for concurrent use.
type Service struct {
	store   Store
	devices DeviceKeys
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
	hub     *hub
	waker   Waker
}

// New returns a Service for c.
func New(c Config) (*Service, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Service{store: c.Store, devices: c.Devices, ttl: c.TTL, now: c.Now, log: c.Logger, hub: newHub(), waker: c.Waker}
	if s.ttl == 0 {
		s.ttl = 120 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// NewRequest is the context of an approval request.
type NewRequest struct {
	UserID string
	// Kind is store.PushSignIn or store.PushPayment.
	Kind                    string
	RPName                  string
	IP, Country, Browser    string
	Amount, Currency, Payee string
}

// Create stores a new request for the user and pushes it to the user's
// connected devices. ErrPending if one is still pending.
func (s *Service) Create(ctx context.Context, n NewRequest) (store.PushRequest, error) {
	if n.Kind != store.PushSignIn && n.Kind != store.PushPayment {
		return store.PushRequest{}, fmt.Errorf("push: unknown kind %q", n.Kind)
	}
	if n.Kind == store.PushPayment && (n.Amount == "" || n.Currency == "" || n.Payee == "") {
		return store.PushRequest{}, errors.New("push: a payment needs amount, currency and payee")
	}
	now := s.now()
	nonce := make([]byte, 32)
	rand.Read(nonce)
	number, choices := numbers()
	r := store.PushRequest{
		ID: "pr_" + strings.ToLower(rand.Text()[:20]), UserID: n.UserID, Kind: n.Kind, RPName: n.RPName,
		IP: n.IP, Country: n.Country, Browser: clip(n.Browser, 120),
		Amount: n.Amount, Currency: n.Currency, Payee: n.Payee,
		Nonce: nonce, Number: number, Choices: choices,
		CreatedAt: now, ExpiresAt: now.Add(s.ttl), Status: store.PushPending,
	}
	if err := s.store.CreatePushRequest(ctx, r, now); err != nil {
		if errors.Is(err, store.ErrExists) {
			s.audit(ctx, store.AuditEvent{Kind: "push.refused", Actor: "system", Subject: n.UserID, Outcome: "denied",
				Details: map[string]string{"reason": "already_pending"}})
			return store.PushRequest{}, ErrPending
		}
		return store.PushRequest{}, fmt.Errorf("create push request: %w", err)
	}
	r.Version = 1
	s.audit(ctx, store.AuditEvent{Kind: "push.created", Actor: "system", Subject: n.UserID, Outcome: "ok",
		Details: map[string]string{"request_id": r.ID, "kind": r.Kind}})
	s.hub.publish(n.UserID, Event{Request: r})
	if s.waker != nil {
		go s.waker.Wake(context.WithoutCancel(ctx), r)
	}
	return r, nil
}

// numbers returns the number to match and three distinct two-digit
// choices holding it, in random order.
func numbers() (int, []int) {
	pick := func() int {
		n, _ := rand.Int(rand.Reader, big.NewInt(90))
		return int(n.Int64()) + 10
	}
	choices := []int{pick()}
	for len(choices) < 3 {
		c := pick()
		if c != choices[0] && (len(choices) < 2 || c != choices[1]) {
			choices = append(choices, c)
		}
	}
	number := choices[0]
	// Fisher-Yates with crypto randomness.
	for i := len(choices) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		choices[i], choices[j.Int64()] = choices[j.Int64()], choices[i]
	}
	return number, choices
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Get returns one request of the user.
func (s *Service) Get(ctx context.Context, userID, id string) (store.PushRequest, error) {
	r, err := s.store.GetPushRequest(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, ErrUnknownRequest
	}
	return r, err
}

// Pending returns the user's requests still waiting at now.
func (s *Service) Pending(ctx context.Context, userID string) ([]store.PushRequest, error) {
	rs, err := s.store.ListPushRequests(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []store.PushRequest
	for _, r := range rs {
		if r.PendingAt(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Authenticate checks a device's signature over the server's connect
// challenge and returns the device.
func (s *Service) Authenticate(ctx context.Context, deviceID string, challenge, sig []byte) (devices.DeviceKey, error) {
	k, err := s.devices.AppDeviceKey(ctx, deviceID)
	if err != nil {
		if errors.Is(err, devices.ErrNotFound) {
			err = ErrUnknownDevice
		}
		s.audit(ctx, store.AuditEvent{Kind: "push.connect_refused", Actor: "anonymous", Outcome: "denied",
			Details: map[string]string{"reason": Reason(err), "device_id": clip(deviceID, 64)}})
		return k, err
	}
	if !ecdsa.VerifyASN1(k.Key, ConnectDigest(deviceID, challenge), sig) {
		s.audit(ctx, store.AuditEvent{Kind: "push.connect_refused", Actor: deviceID, Subject: k.UserID, Outcome: "denied",
			Details: map[string]string{"reason": "bad_signature", "device_id": deviceID}})
		return devices.DeviceKey{}, ErrBadSignature
	}
	return k, nil
}

// Decide verifies and applies a device's signed decision. The first valid
// decision wins; every refusal leaves the request unchanged and is audited.
func (s *Service) Decide(ctx context.Context, deviceID string, d Decision) (store.PushRequest, error) {
	r, err := s.decide(ctx, deviceID, d)
	if err != nil {
		subject := r.UserID
		s.audit(ctx, store.AuditEvent{Kind: "push.decision_refused", Actor: deviceID, Subject: subject, Outcome: "denied",
			Details: map[string]string{"reason": Reason(err), "request_id": clip(d.RequestID, 64), "device_id": clip(deviceID, 64)}})
		return store.PushRequest{}, err
	}
	details := map[string]string{"request_id": r.ID, "device_id": deviceID, "kind": r.Kind}
	if r.NotMe {
		details["not_me"] = "true"
	}
	s.audit(ctx, store.AuditEvent{Kind: "push." + r.Status, Actor: deviceID, Subject: r.UserID, Outcome: "ok", Details: details})
	if r.NotMe {
		if err := s.store.SetLastReport(ctx, r.UserID, r.DecidedAt); err != nil {
			s.log.ErrorContext(ctx, "record report failed", "user_id", r.UserID, "err", err)
		}
		s.audit(ctx, store.AuditEvent{Kind: "push.reported", Actor: deviceID, Subject: r.UserID, Outcome: "ok",
			Details: map[string]string{"request_id": r.ID}})
	}
	s.hub.publish(r.UserID, Event{Request: r})
	return r, nil
}

func (s *Service) decide(ctx context.Context, deviceID string, d Decision) (store.PushRequest, error) {
	if err := d.check(); err != nil {
		return store.PushRequest{}, err
	}
	k, err := s.devices.AppDeviceKey(ctx, deviceID)
	if err != nil {
		if errors.Is(err, devices.ErrNotFound) {
			return store.PushRequest{}, ErrUnknownDevice
		}
		return store.PushRequest{}, err
	}
	req, err := s.store.GetPushRequest(ctx, k.UserID, d.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return store.PushRequest{UserID: k.UserID}, ErrUnknownRequest
	}
	if err != nil {
		return store.PushRequest{UserID: k.UserID}, err
	}
	if !ecdsa.VerifyASN1(k.Key, d.Digest(req.Nonce), d.Signature) {
		return req, ErrBadSignature
	}
	if !same(d.Amount, req.Amount) || !same(d.Currency, req.Currency) || !same(d.Payee, req.Payee) {
		return req, ErrTampered
	}
	now := s.now()
	out, err := s.store.UpdatePushRequest(ctx, k.UserID, d.RequestID, func(r store.PushRequest) (store.PushRequest, error) {
		if r.Status != store.PushPending {
			return r, ErrAlreadyDecided
		}
		if !now.Before(r.ExpiresAt) {
			return r, ErrExpired
		}
		if d.Decision == Approve && d.Number != r.Number {
			return r, ErrWrongNumber
		}
		r.Status = store.PushApproved
		if d.Decision == Deny {
			r.Status = store.PushDenied
			r.NotMe = d.NotMe
		}
		r.DecidedAt, r.DeviceID = now, deviceID
		return r, nil
	})
	if err != nil {
		return req, err
	}
	return out, nil
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Subscribe delivers the user's request events (new and decided requests)
// until cancel is called. Events are dropped for a subscriber that falls
// behind; it recovers by reading the store (Pending, Get).
func (s *Service) Subscribe(userID string) (<-chan Event, func()) { return s.hub.subscribe(userID) }

func (s *Service) audit(ctx context.Context, e store.AuditEvent) {
	e.Time = s.now()
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit failed", "kind", e.Kind, "err", err)
	}
}
