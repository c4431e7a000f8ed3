package authserver

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
)

// Failed device authentications on the app's channel (/push/v1/connect: a
// malformed hello, an unknown device, a challenge not signed by the
// device's key) are throttled like sign-in failures, in the same sliding
// window: per network, checked before the websocket upgrade so a flood is
// answered 429 without a challenge, and per device id, checked once the
// hello names the device, before its signature is verified. A refused
// channel gets an error message with reason "throttled" and a policy
// violation close frame. A successful authentication clears the device's
// count. Every refusal is audited (push.connect_throttled, naming the
// scope and, for a device, its id; no personal data).
const (
	// maxPushConnectFailuresPerNet is how many failed device
	// authentications from one network within the window refuse further
	// connections from it.
	maxPushConnectFailuresPerNet = 20
	// maxPushConnectFailuresPerDevice is how many failed authentications
	// naming one device refuse further attempts for it.
	maxPushConnectFailuresPerDevice = 5
	// pushThrottledReason is the channel's error reason and close text.
	pushThrottledReason = "throttled"
)

func pushConnectNetKey(r *http.Request) string {
	return "push-connect-net:" + netKeyOf(clientIP(r))
}

func pushConnectDeviceKey(deviceID string) string {
	return "push-connect-device:" + truncate(deviceID, 64)
}

// pushConnectNetThrottled answers 429 before the upgrade when the client's
// network is over its limit.
func (s *Server) pushConnectNetThrottled(w http.ResponseWriter, r *http.Request) bool {
	if s.throttle.count(pushConnectNetKey(r)) < maxPushConnectFailuresPerNet {
		return false
	}
	s.audit(r, store.AuditEvent{Kind: "push.connect_throttled", Actor: "anonymous", Outcome: "denied",
		Details: map[string]string{"scope": "network"}})
	w.Header().Set("Retry-After", "900")
	writeProblem(w, http.StatusTooManyRequests, "Too many failed device authentications from this network.")
	return true
}

// pushConnectDeviceThrottled refuses the channel when the device named in
// the hello is over its limit.
func (s *Server) pushConnectDeviceThrottled(r *http.Request, c *pushConn, deviceID string) bool {
	if s.throttle.count(pushConnectDeviceKey(deviceID)) < maxPushConnectFailuresPerDevice {
		return false
	}
	s.audit(r, store.AuditEvent{Kind: "push.connect_throttled", Actor: "anonymous", Outcome: "denied",
		Details: map[string]string{"scope": "device", "device_id": truncate(deviceID, 64)}})
	s.refuseChannel(c, pushThrottledReason)
	return true
}

// pushConnectFailed counts a failed device authentication against the
// network and, when the hello named one, the device.
func (s *Server) pushConnectFailed(r *http.Request, deviceID string) {
	keys := []string{pushConnectNetKey(r)}
	if deviceID != "" {
		keys = append(keys, pushConnectDeviceKey(deviceID))
	}
	s.throttle.fail(keys...)
}

// refuseChannel tells the device why and closes the channel with a policy
// violation.
func (s *Server) refuseChannel(c *pushConn, reason string) {
	c.send(push.Message{Type: push.MsgError, Reason: reason})
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason),
		time.Now().Add(time.Second))
	c.ws.Close()
}
