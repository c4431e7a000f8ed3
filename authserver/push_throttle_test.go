package authserver

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/assent-auth/assent/push"
)

// TestPushConnectThrottled: failed device authentications on a real
// loopback websocket are counted per device and per network. Past the
// device's limit even its real key is refused, with reason "throttled"
// and a policy violation close, while another device still connects; past
// the network's limit the upgrade itself is answered 429. Both are
// audited, and the window's end lifts them.
func TestPushConnectThrottled(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	id, other, forged := b.forgedDevice(ctx)

	for i := range maxPushConnectFailuresPerDevice {
		if _, err := forged.Connect(ctx); err == nil || !strings.Contains(err.Error(), "bad_signature") {
			t.Fatalf("forged hello %d: %v", i, err)
		}
	}
	// The device's own key is refused now, before its signature is checked.
	if _, err := id.Connect(ctx); err == nil || !strings.Contains(err.Error(), pushThrottledReason) {
		t.Fatalf("throttled device connected or was refused for another reason: %v", err)
	}
	ev := e.lastEvent("push.connect_throttled")
	if ev.Details["scope"] != "device" || ev.Details["device_id"] != id.DeviceID || ev.Outcome != "denied" || ev.Subject != "" {
		t.Errorf("push.connect_throttled = %+v", ev)
	}
	// The close frame says why.
	wsURL := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/push/v1/connect"
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m push.Message
	if err := ws.ReadJSON(&m); err != nil || m.Type != push.MsgChallenge {
		t.Fatalf("challenge: %v %+v", err, m)
	}
	ws.WriteJSON(push.Message{Type: push.MsgHello, DeviceID: id.DeviceID, Signature: []byte("x")})
	if err := ws.ReadJSON(&m); err != nil || m.Type != push.MsgError || m.Reason != pushThrottledReason {
		t.Fatalf("throttled hello: %v %+v", err, m)
	}
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != pushThrottledReason {
		t.Errorf("close after a throttled hello: %v", err)
	}
	ws.Close()

	// Another device from the same network is not held back.
	conn, err := other.Connect(ctx)
	if err != nil {
		t.Fatalf("another device: %v", err)
	}
	conn.Close()

	// Unknown devices and malformed hellos fill the network's count; then
	// the upgrade is refused with 429 before any challenge.
	unknown := *other
	for i := maxPushConnectFailuresPerDevice; i < maxPushConnectFailuresPerNet; i++ {
		if i%2 == 0 {
			unknown.DeviceID = "no-such-device-" + strconv.Itoa(i)
			if _, err := unknown.Connect(ctx); err == nil || !strings.Contains(err.Error(), "unknown_device") {
				t.Fatalf("unknown device %d: %v", i, err)
			}
			continue
		}
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		ws.ReadJSON(&m)
		ws.WriteMessage(websocket.TextMessage, []byte("{not json"))
		if err := ws.ReadJSON(&m); err != nil || m.Reason != "malformed" {
			t.Fatalf("malformed hello %d: %v %+v", i, err, m)
		}
		ws.Close()
	}
	_, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("network over its limit: %v %v", err, resp)
	}
	if _, err := other.Connect(ctx); err == nil {
		t.Error("a device connected from a throttled network")
	}
	if ev := e.lastEvent("push.connect_throttled"); ev.Details["scope"] != "network" || ev.Actor != "anonymous" {
		t.Errorf("push.connect_throttled = %+v", ev)
	}

	// The window's end lifts both; a success clears the device's count.
	e.clock.Advance(16 * time.Minute)
	conn, err = id.Connect(ctx)
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
	conn.Close()
}
