package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/store"
)

// MaxMessage bounds one message on the device channel, in bytes.
const MaxMessage = 8 << 10

// Message types on the device channel (docs/PUSH-PROTOCOL.md).
const (
	// Server to device.
	MsgChallenge = "challenge"
	MsgReady     = "ready"
	MsgRequest   = "request"
	MsgResolved  = "resolved"
	MsgResult    = "result"
	MsgError     = "error"
	// Device to server.
	MsgHello    = "hello"
	MsgDecision = "decision"
	// Both ways: the device's new FCM registration token, and the
	// server's answer.
	MsgToken = "token"
)

// Decisions.
const (
	Approve = "approve"
	Deny    = "deny"
)

// Message is one frame on the device channel. Type says which fields are
// set.
type Message struct {
	Type string `json:"type"`
	// challenge / hello
	Challenge []byte `json:"challenge,omitempty"`
	DeviceID  string `json:"device_id,omitempty"`
	Signature []byte `json:"signature,omitempty"`
	// request
	Request *RequestView `json:"request,omitempty"`
	// decision
	Decision *Decision `json:"decision,omitempty"`
	// token (device to server); empty turns FCM wake-ups off
	FCMToken string `json:"fcm_token,omitempty"`
	// resolved / result / error
	RequestID string `json:"request_id,omitempty"`
	Status    string `json:"status,omitempty"`
	OK        bool   `json:"ok,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// RequestView is what the app is shown: never the number to match itself,
// only the three choices.
type RequestView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	RPName    string    `json:"rp_name,omitempty"`
	IP        string    `json:"ip,omitempty"`
	Country   string    `json:"country,omitempty"`
	Browser   string    `json:"browser,omitempty"`
	Amount    string    `json:"amount,omitempty"`
	Currency  string    `json:"currency,omitempty"`
	Payee     string    `json:"payee,omitempty"`
	Nonce     []byte    `json:"nonce"`
	Choices   []int     `json:"choices"`
	ExpiresAt time.Time `json:"expires_at"`
}

// View returns what the app is shown of r.
func View(r store.PushRequest) *RequestView {
	return &RequestView{ID: r.ID, Kind: r.Kind, RPName: r.RPName, IP: r.IP, Country: r.Country, Browser: r.Browser,
		Amount: r.Amount, Currency: r.Currency, Payee: r.Payee, Nonce: r.Nonce, Choices: r.Choices, ExpiresAt: r.ExpiresAt}
}

// Decision is the app's signed answer. Amount, Currency and Payee are
// what the app displayed; they must equal the request's.
type Decision struct {
	RequestID string `json:"request_id"`
	Decision  string `json:"decision"`
	// Number is the choice the person picked; 0 on a denial.
	Number int `json:"number"`
	// NotMe marks a denial as "this wasn't me".
	NotMe    bool   `json:"not_me,omitempty"`
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	Payee    string `json:"payee,omitempty"`
	// Signature is ASN.1 DER ECDSA P-256 over SHA-256 of SignedBytes.
	Signature []byte `json:"signature"`
}

const (
	decisionLabel = "assent push decision v1"
	connectLabel  = "assent push connect v1"
)

// SignedBytes is the canonical encoding a decision's signature covers: a
// label, then each field as a 4-byte big-endian length and its bytes: the
// request id, the request's nonce, the decision, the chosen number in
// decimal, "1" or "0" for not_me, the amount, the currency and the payee.
func (d Decision) SignedBytes(nonce []byte) []byte {
	var b bytes.Buffer
	b.WriteString(decisionLabel)
	for _, f := range [][]byte{[]byte(d.RequestID), nonce, []byte(d.Decision), []byte(strconv.Itoa(d.Number)),
		[]byte(boolDigit(d.NotMe)), []byte(d.Amount), []byte(d.Currency), []byte(d.Payee)} {
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		b.Write(f)
	}
	return b.Bytes()
}

// Digest is the SHA-256 of SignedBytes.
func (d Decision) Digest(nonce []byte) []byte {
	h := sha256.Sum256(d.SignedBytes(nonce))
	return h[:]
}

// ConnectDigest is what a device signs to open its channel: SHA-256 of a
// label, 0x00, the device id, 0x00 and the server's challenge.
func ConnectDigest(deviceID string, challenge []byte) []byte {
	h := sha256.New()
	h.Write([]byte(connectLabel + "\x00" + deviceID + "\x00"))
	h.Write(challenge)
	return h.Sum(nil)
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// ErrMalformed reports a message that does not decode or breaks the
// protocol's limits.
var ErrMalformed = errors.New("push: malformed message")

// DecodeMessage decodes one frame from a device, strictly: bounded size,
// no unknown fields, one JSON value, and well-formed decision fields.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessage || !utf8.Valid(b) {
		return m, ErrMalformed
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Message{}, ErrMalformed
	}
	switch m.Type {
	case MsgHello:
		if m.DeviceID == "" || len(m.DeviceID) > 64 || len(m.Signature) == 0 || len(m.Signature) > 80 {
			return Message{}, ErrMalformed
		}
	case MsgToken:
		if !devices.ValidFCMToken(m.FCMToken) || m.Decision != nil || m.DeviceID != "" {
			return Message{}, ErrMalformed
		}
	case MsgDecision:
		if m.Decision == nil {
			return Message{}, ErrMalformed
		}
		if err := m.Decision.check(); err != nil {
			return Message{}, err
		}
	default:
		return Message{}, ErrMalformed
	}
	return m, nil
}

// TypeOf returns the type of a frame that DecodeMessage refused, if it
// has one, so that the answer can say what was refused.
func TypeOf(b []byte) string {
	var t struct {
		Type string `json:"type"`
	}
	if len(b) > MaxMessage || json.Unmarshal(b, &t) != nil || len(t.Type) > 16 {
		return ""
	}
	return t.Type
}

func (d *Decision) check() error {
	switch {
	case d.RequestID == "" || len(d.RequestID) > 64,
		d.Decision != Approve && d.Decision != Deny,
		d.Number < 0 || d.Number > 99,
		d.NotMe && d.Decision != Deny,
		len(d.Amount) > 32 || len(d.Currency) > 3 || len(d.Payee) > 200,
		len(d.Signature) == 0 || len(d.Signature) > 80:
		return ErrMalformed
	}
	return nil
}
