package deviceclient

import (
	"time"

	"github.com/assent-auth/assent/push"
)

// SendFCMToken tells the server the app's new FCM registration token
// (Firebase rotates them); an empty token turns FCM wake-ups off. The
// server answers with a message of type push.MsgToken, OK or with a
// reason, which Next returns.
func (c *Conn) SendFCMToken(token string) error {
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(push.Message{Type: push.MsgToken, FCMToken: token})
}
