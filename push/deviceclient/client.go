package deviceclient

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/push"
)

// Identity is an enrolled device: where its server is, its id and its
// private key. It is kept in a file only its owner can read.
type Identity struct {
	Server   string `json:"server"`
	DeviceID string `json:"device_id"`
	Name     string `json:"name,omitempty"`
	// Key is the P-256 private key, PKCS #8 DER.
	Key []byte `json:"key"`

	priv *ecdsa.PrivateKey
}

// Save writes the identity to path with mode 0600.
func (id *Identity) Save(path string) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Load reads an identity written by Save.
func Load(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("device file %s: %w", path, err)
	}
	if err := id.parse(); err != nil {
		return nil, fmt.Errorf("device file %s: %w", path, err)
	}
	return &id, nil
}

func (id *Identity) parse() error {
	k, err := x509.ParsePKCS8PrivateKey(id.Key)
	if err != nil {
		return err
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return errors.New("not a P-256 key")
	}
	id.priv = priv
	return nil
}

// Activate creates a key pair and enrolls it with the one-time code.
func Activate(ctx context.Context, hc *http.Client, server, code, name, platform string) (*Identity, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sig, err := signDigest(priv, devices.EnrollmentMessage(code, pub))
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{"code": code, "public_key": pub, "signature": sig, "platform": platform, "name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(server, "/")+"/push/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Detail string `json:"detail"`
		}
		json.Unmarshal(b, &p)
		return nil, fmt.Errorf("enroll: %s: %s", resp.Status, p.Detail)
	}
	var out struct {
		DeviceID string `json:"device_id"`
		Name     string `json:"name"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.DeviceID == "" {
		return nil, fmt.Errorf("enroll: unexpected answer")
	}
	return &Identity{Server: server, DeviceID: out.DeviceID, Name: out.Name, Key: pkcs8, priv: priv}, nil
}

func signDigest(priv *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256Sum(msg)
	return ecdsa.SignASN1(rand.Reader, priv, h)
}

// Conn is an authenticated channel to the server.
type Conn struct {
	id *Identity
	ws *websocket.Conn
}

// Connect opens the channel and authenticates it with the device key.
func (id *Identity) Connect(ctx context.Context) (*Conn, error) {
	if id.priv == nil {
		if err := id.parse(); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(strings.TrimSuffix(id.Server, "/") + "/push/v1/connect")
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	ws.SetReadLimit(push.MaxMessage)
	c := &Conn{id: id, ws: ws}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	m, err := c.read()
	if err != nil || m.Type != push.MsgChallenge {
		ws.Close()
		return nil, fmt.Errorf("connect: no challenge: %v", err)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, id.priv, push.ConnectDigest(id.DeviceID, m.Challenge))
	if err != nil {
		ws.Close()
		return nil, err
	}
	if err := ws.WriteJSON(push.Message{Type: push.MsgHello, DeviceID: id.DeviceID, Signature: sig}); err != nil {
		ws.Close()
		return nil, err
	}
	m, err = c.read()
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if m.Type != push.MsgReady {
		ws.Close()
		return nil, fmt.Errorf("connect refused: %s", m.Reason)
	}
	return c, nil
}

func (c *Conn) read() (push.Message, error) {
	var m push.Message
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("bad message from server: %w", err)
	}
	return m, nil
}

// Next returns the next message from the server (request, resolved or
// result). It answers pings meanwhile. ctx ending closes the channel.
func (c *Conn) Next(ctx context.Context) (push.Message, error) {
	stop := context.AfterFunc(ctx, func() { c.ws.Close() })
	defer stop()
	m, err := c.read()
	if err != nil && ctx.Err() != nil {
		return m, ctx.Err()
	}
	return m, err
}

// Answer is the person's choice on a request.
type Answer struct {
	Approve bool
	// Number is the picked choice (ignored on a denial).
	Number int
	// NotMe marks a denial as "this wasn't me".
	NotMe bool
}

// Sign builds the signed decision for a request as displayed.
func (id *Identity) Sign(req push.RequestView, a Answer) (push.Decision, error) {
	if id.priv == nil {
		if err := id.parse(); err != nil {
			return push.Decision{}, err
		}
	}
	d := push.Decision{RequestID: req.ID, Decision: push.Deny, NotMe: a.NotMe && !a.Approve,
		Amount: req.Amount, Currency: req.Currency, Payee: req.Payee}
	if a.Approve {
		d.Decision, d.Number = push.Approve, a.Number
	}
	sig, err := ecdsa.SignASN1(rand.Reader, id.priv, d.Digest(req.Nonce))
	if err != nil {
		return push.Decision{}, err
	}
	d.Signature = sig
	return d, nil
}

// Send sends a signed decision; the server answers with a result message.
func (c *Conn) Send(d push.Decision) error {
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(push.Message{Type: push.MsgDecision, Decision: &d})
}

// SendRaw sends a frame as is (for tests of the server's input checks).
func (c *Conn) SendRaw(b []byte) error { return c.ws.WriteMessage(websocket.TextMessage, b) }

// Close closes the channel.
func (c *Conn) Close() error { return c.ws.Close() }

// Handler decides one request; ok false leaves it unanswered.
type Handler func(ctx context.Context, req push.RequestView) (a Answer, ok bool)

// Run keeps the channel open, reconnecting with backoff, and answers each
// request with h until ctx ends. Results and resolutions go to report,
// which may be nil.
func (id *Identity) Run(ctx context.Context, h Handler, report func(push.Message)) error {
	backoff := 500 * time.Millisecond
	for {
		c, err := id.Connect(ctx)
		if err == nil {
			backoff = 500 * time.Millisecond
			err = c.serve(ctx, h, report)
			c.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if report != nil {
			report(push.Message{Type: push.MsgError, Reason: err.Error()})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (c *Conn) serve(ctx context.Context, h Handler, report func(push.Message)) error {
	answered := map[string]bool{}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return err
		}
		if m.Type != push.MsgRequest || m.Request == nil {
			if report != nil {
				report(m)
			}
			continue
		}
		if answered[m.Request.ID] {
			continue
		}
		a, ok := h(ctx, *m.Request)
		if !ok {
			continue
		}
		answered[m.Request.ID] = true
		d, err := c.id.Sign(*m.Request, a)
		if err != nil {
			return err
		}
		if err := c.Send(d); err != nil {
			return err
		}
	}
}
