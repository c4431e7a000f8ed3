package authserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/text/language"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/fcm"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// pushCookie binds an approval request to the browser waiting for it.
const pushCookie = "assent_push"

// Device channel timing: a peer that answers no ping within pongWait is
// dropped.
const (
	pushPingPeriod = 25 * time.Second
	pushPongWait   = 60 * time.Second
	pushWriteWait  = 10 * time.Second
	pushHelloWait  = 10 * time.Second
)

// pushFlow is the approval request a browser waits for. Pending is the
// nonce of the pending sign-in it was started for: it serves that sign-in
// and no later one in the same browser.
type pushFlow struct {
	UserID    string `json:"user_id"`
	RequestID string `json:"request_id"`
	Pending   string `json:"pending"`
}

// servesSignIn reports whether f is the approval of the pending sign-in p
// with the given nonce.
func (f pushFlow) servesSignIn(p pendingSignIn, nonce string) bool {
	return f.UserID == p.UserID && nonce != "" && subtle.ConstantTimeCompare([]byte(f.Pending), []byte(nonce)) == 1
}

func (s *Server) initPush() error {
	var waker push.Waker
	if c := s.cfg.FCM; c != nil {
		c.Tokens, c.Logger = s.devices, s.log
		sender, err := fcm.New(context.Background(), *c)
		if err != nil {
			return err
		}
		waker = sender
	}
	var err error
	s.push, err = push.New(push.Config{Store: auditPublisher{Store: s.store, hub: s.events}, Devices: s.devices, Waker: waker, TTL: s.cfg.PushTTL, Now: s.now, Logger: s.log,
		NumberMatching: s.cfg.PushNumberMatching, Fatigue: s.cfg.PushFatigue})
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	return nil
}

func (s *Server) pushRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /push/v1/enroll", s.handlePushEnroll)
	mux.HandleFunc("GET /push/v1/connect", s.handlePushConnect)
	mux.HandleFunc("POST /security/app-devices", s.handleBeginAppEnrollment)
	mux.HandleFunc("POST /signin/factor/push", s.handleFactorPush)
	mux.HandleFunc("GET /signin/factor/push/events", s.handlePushEvents)
	mux.HandleFunc("GET /signin/factor/push/status", s.handlePushStatus)
	mux.HandleFunc("POST /signin/factor/push/finish", s.handleFactorPushFinish)
}

// enrollRequest is the app's enrollment, JSON; byte fields are base64.
type enrollRequest struct {
	Code      string `json:"code"`
	PublicKey []byte `json:"public_key"`
	Signature []byte `json:"signature"`
	Platform  string `json:"platform"`
	Name      string `json:"name"`
	FCMToken  string `json:"fcm_token,omitempty"`
}

func (s *Server) handlePushEnroll(w http.ResponseWriter, r *http.Request) {
	ipKey := netKeyOf(clientIP(r))
	if s.throttle.count(ipKey) >= maxFailuresPerIP {
		w.Header().Set("Retry-After", "900")
		writeProblem(w, http.StatusTooManyRequests, "Too many failed attempts from this network.")
		return
	}
	var req enrollRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	dev, err := s.devices.RedeemAppEnrollment(r.Context(), devices.Redemption{Code: req.Code, PublicKey: req.PublicKey,
		Signature: req.Signature, Platform: req.Platform, Name: req.Name, FCMToken: req.FCMToken})
	if err != nil {
		var re *devices.RefusedError
		if !errors.As(err, &re) && !errors.Is(err, devices.ErrInvalidName) {
			s.log.ErrorContext(r.Context(), "app enrollment failed", "err", err)
			writeProblem(w, http.StatusInternalServerError, "")
			return
		}
		reason := devices.ReasonMalformed
		subject := ""
		if re != nil {
			reason, subject = re.Reason, re.UserID
		}
		s.throttle.fail(ipKey)
		s.audit(r, store.AuditEvent{Kind: "app_device.enroll_refused", Actor: "anonymous", Subject: subject, Outcome: "denied",
			Details: map[string]string{"reason": reason}})
		writeProblem(w, http.StatusBadRequest, "The enrollment was refused: "+reason+".")
		return
	}
	s.factorAudit(r, "app_device.enrolled", dev.UserID, map[string]string{"device_id": dev.ID, "platform": dev.Platform})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"device_id": dev.ID, "name": dev.Name})
}

// hijacker reaches the connection through the middleware's wrappers (the
// upgrader asks for http.Hijacker directly).
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// pushUpgrader keeps an idle device channel small: a 512-byte read
// buffer (frames are read through it, not into it) and write buffers from
// a pool, held only while a frame is written.
var pushUpgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}

// pushConn is one device's channel. Its one goroutine reads; writes
// (answers, requests from the hub, pings from a timer) are serialized by
// mu, and hub events wait in queue for a short-lived writer goroutine, so
// an idle channel costs one parked goroutine, a timer and its buffers.
type pushConn struct {
	mu sync.Mutex // serializes writes
	ws *websocket.Conn

	qmu      sync.Mutex
	queue    []push.Event
	draining bool
	closed   bool
	ping     *time.Timer
}

// maxPushQueue bounds the events waiting for a slow device; past it the
// channel is closed and the device resumes on reconnect.
const maxPushQueue = 32

func (c *pushConn) send(m push.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(pushWriteWait))
	return c.ws.WriteJSON(m)
}

// keepAlive pings every pushPingPeriod from a timer, not a goroutine.
func (c *pushConn) keepAlive() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.ping = time.AfterFunc(pushPingPeriod, func() {
		c.mu.Lock()
		err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(pushWriteWait))
		c.mu.Unlock()
		if err != nil {
			c.close()
			return
		}
		c.qmu.Lock()
		if !c.closed {
			c.ping.Reset(pushPingPeriod)
		}
		c.qmu.Unlock()
	})
}

func (c *pushConn) close() {
	c.qmu.Lock()
	c.closed, c.queue = true, nil
	if c.ping != nil {
		c.ping.Stop()
	}
	c.qmu.Unlock()
	c.ws.Close()
}

// enqueue hands a hub event to the writer; it never blocks (it runs under
// the hub's lock).
func (c *pushConn) enqueue(e push.Event, write func(push.Event) error) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) >= maxPushQueue {
		go c.close()
		return
	}
	c.queue = append(c.queue, e)
	if !c.draining {
		c.draining = true
		go c.drain(write)
	}
}

func (c *pushConn) drain(write func(push.Event) error) {
	for {
		c.qmu.Lock()
		if len(c.queue) == 0 || c.closed {
			c.draining, c.queue = false, nil
			c.qmu.Unlock()
			return
		}
		e := c.queue[0]
		c.queue = c.queue[1:]
		c.qmu.Unlock()
		if write(e) != nil {
			c.close()
		}
	}
}

// handlePushConnect runs one app device's channel: challenge, signed
// hello, then requests out and decisions in until either side leaves. The
// handler returns once the device is authenticated; a fresh goroutine
// with a small stack reads from then on.
func (s *Server) handlePushConnect(w http.ResponseWriter, r *http.Request) {
	if s.pushConnectNetThrottled(w, r) { // push_throttle.go
		return
	}
	ws, err := pushUpgrader.Upgrade(hijacker{w}, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	ws.SetReadLimit(push.MaxMessage)
	c := &pushConn{ws: ws}
	// The channel outlives this handler: keep the request's values, not
	// its cancellation.
	r = r.WithContext(context.WithoutCancel(r.Context()))
	ctx := r.Context()

	challenge := make([]byte, 32)
	rand.Read(challenge)
	if c.send(push.Message{Type: push.MsgChallenge, Challenge: challenge}) != nil {
		ws.Close()
		return
	}
	ws.SetReadDeadline(time.Now().Add(pushHelloWait))
	_, raw, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return
	}
	hello, err := push.DecodeMessage(raw)
	if err != nil || hello.Type != push.MsgHello {
		s.audit(r, store.AuditEvent{Kind: "push.connect_refused", Actor: "anonymous", Outcome: "denied", Details: map[string]string{"reason": "malformed"}})
		s.pushConnectFailed(r, "")
		c.send(push.Message{Type: push.MsgError, Reason: "malformed"})
		ws.Close()
		return
	}
	if s.pushConnectDeviceThrottled(r, c, hello.DeviceID) {
		return
	}
	dev, err := s.push.Authenticate(ctx, hello.DeviceID, challenge, hello.Signature)
	if err != nil {
		if push.Reason(err) != "error" { // a refusal, not a store failure
			s.pushConnectFailed(r, hello.DeviceID)
		}
		c.send(push.Message{Type: push.MsgError, Reason: push.Reason(err)})
		ws.Close()
		return
	}
	s.throttle.reset(pushConnectDeviceKey(dev.DeviceID))
	s.devices.TouchAppDevice(ctx, dev.UserID, dev.DeviceID)
	if c.send(push.Message{Type: push.MsgReady, DeviceID: dev.DeviceID}) != nil {
		ws.Close()
		return
	}
	// Subscribed before the pending requests are read, so none is missed
	// (one may come twice; the app keeps one card per id).
	cancel := s.push.SubscribeFunc(dev.UserID, func(e push.Event) { c.enqueue(e, func(e push.Event) error { return s.sendEvent(ctx, c, dev, e) }) })
	pending, err := s.push.Pending(ctx, dev.UserID)
	if err != nil {
		s.log.ErrorContext(ctx, "list pending push requests failed", "err", err)
		cancel()
		ws.Close()
		return
	}
	for _, p := range pending {
		if c.send(push.Message{Type: push.MsgRequest, Request: push.View(p)}) != nil {
			cancel()
			ws.Close()
			return
		}
	}
	ws.SetReadDeadline(time.Now().Add(pushPongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pushPongWait)) })
	c.keepAlive()
	// The channel may stay open for days: keep what its audit events need
	// (the request's context and user agent), not the whole request with
	// its headers and URL, a kilobyte or more for each connected device.
	r = slimRequest(r)
	go func() {
		defer cancel()
		defer c.close()
		s.readDeviceChannel(r, c, dev)
	}()
}

// slimRequest keeps of r what audit events read: its context (client
// address, request id) and its user agent.
func slimRequest(r *http.Request) *http.Request {
	slim := &http.Request{Method: r.Method, RemoteAddr: r.RemoteAddr, Header: http.Header{}}
	if ua := r.UserAgent(); ua != "" {
		slim.Header.Set("User-Agent", truncate(ua, 256))
	}
	return slim.WithContext(r.Context())
}

// sendEvent writes a hub event to the device: a new request, or that one
// was resolved.
func (s *Server) sendEvent(ctx context.Context, c *pushConn, dev devices.DeviceKey, e push.Event) error {
	if e.Request.ID == "" {
		return nil // a lock: the device learns it from its next decision
	}
	m := push.Message{Type: push.MsgResolved, RequestID: e.Request.ID, Status: e.Request.Status}
	if e.Request.PendingAt(s.now()) {
		// A device revoked while connected gets no more requests.
		if _, err := s.devices.AppDeviceKey(ctx, dev.DeviceID); err != nil {
			c.send(push.Message{Type: push.MsgError, Reason: "unknown_device"})
			return err
		}
		m = push.Message{Type: push.MsgRequest, Request: push.View(e.Request)}
	}
	return c.send(m)
}

// readDeviceChannel takes the device's messages until the channel ends.
func (s *Server) readDeviceChannel(r *http.Request, c *pushConn, dev devices.DeviceKey) {
	ctx := r.Context()
	for {
		_, raw, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(pushPongWait))
		m, err := push.DecodeMessage(raw)
		var out push.Message
		switch {
		case err == nil && m.Type == push.MsgToken:
			out = s.updateFCMToken(r, dev, m.FCMToken)
		case err != nil && push.TypeOf(raw) == push.MsgToken:
			out = push.Message{Type: push.MsgToken, Reason: "malformed"}
		case err != nil || m.Type != push.MsgDecision:
			s.audit(r, store.AuditEvent{Kind: "push.decision_refused", Actor: dev.DeviceID, Subject: dev.UserID, Outcome: "denied",
				Details: map[string]string{"reason": "malformed", "device_id": dev.DeviceID}})
			out = push.Message{Type: push.MsgResult, Reason: "malformed"}
		default:
			res, err := s.push.Decide(ctx, dev.DeviceID, *m.Decision)
			out = push.Message{Type: push.MsgResult, RequestID: m.Decision.RequestID, OK: err == nil, Status: res.Status}
			if err != nil {
				out.Reason = push.Reason(err)
			}
		}
		if c.send(out) != nil {
			return
		}
	}
}

// updateFCMToken stores the FCM registration token an authenticated
// device sends, and returns the answer.
func (s *Server) updateFCMToken(r *http.Request, dev devices.DeviceKey, token string) push.Message {
	err := s.devices.SetFCMToken(r.Context(), dev.UserID, dev.DeviceID, token)
	switch {
	case err == nil:
		s.audit(r, store.AuditEvent{Kind: "app_device.fcm_token_updated", Actor: dev.DeviceID, Subject: dev.UserID, Outcome: "ok",
			Details: map[string]string{"device_id": dev.DeviceID, "removed": strconv.FormatBool(token == "")}})
		return push.Message{Type: push.MsgToken, OK: true}
	case errors.Is(err, devices.ErrNotFound):
		return push.Message{Type: push.MsgToken, Reason: "unknown_device"}
	case devices.Reason(err) != "":
		return push.Message{Type: push.MsgToken, Reason: "malformed"}
	}
	s.log.ErrorContext(r.Context(), "update FCM token failed", "device_id", dev.DeviceID, "err", err)
	return push.Message{Type: push.MsgToken, Reason: "error"}
}

// appEnrollPage is the enrollment code page's data.
type appEnrollPage struct {
	Code    string
	QR      template.URL
	Expires string
}

func (s *Server) handleBeginAppEnrollment(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	e, err := s.devices.StartAppEnrollment(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "start app enrollment failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.factorAudit(r, "app_device.enrollment_started", ident.ID, map[string]string{"by": "user"})
	pg := s.newPage(w, r)
	pg.User = ident
	pg.Data = appEnrollPage{Code: e.Code.Reveal(), QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR)),
		Expires: e.Expires.UTC().Format("15:04 MST")}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "app_enroll", pg)
}

// pushWaitPage is the waiting page's data.
type pushWaitPage struct {
	RequestID string
	Number    int
	Seconds   int
}

// handleFactorPush sends an approval request to the user's app devices and
// shows the number to match.
func (s *Server) handleFactorPush(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, nonce, ok := s.pending(w, r)
	if !ok || s.secondFactorThrottled(w, r, p) || s.methodRefused(w, r, p, risk.MethodPush) {
		return
	}
	ip := clientIP(r)
	req, err := s.push.Create(r.Context(), push.NewRequest{UserID: p.UserID, Kind: store.PushSignIn,
		RPName: s.theme.message(language.English, "product.name"), IP: ip.String(),
		Country: s.cfg.Locator.Locate(ip).Country, Browser: r.UserAgent(), RiskLevel: p.Details["risk_level"]})
	switch {
	case errors.Is(err, push.ErrPending):
		s.renderFactorPage(w, r, http.StatusConflict, p, "factor.push_pending")
		return
	case errors.Is(err, push.ErrRateLimited):
		w.Header().Set("Retry-After", "900")
		s.renderFactorPage(w, r, http.StatusTooManyRequests, p, "factor.push_rate_limited")
		return
	case errors.Is(err, push.ErrLocked):
		s.renderPushLocked(w, r, p)
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "create push request failed", "user_id", p.UserID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	if err := s.putFlow(w, r, pushCookie, pushFlow{UserID: p.UserID, RequestID: req.ID, Pending: nonce}); err != nil {
		s.log.ErrorContext(r.Context(), "store push flow failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	pg := s.newPage(w, r)
	pg.Data = pushWaitPage{RequestID: req.ID, Number: req.Number, Seconds: int(req.ExpiresAt.Sub(s.now()).Seconds())}
	pg.flow = flowRequest(p.ReturnTo) // form_action.go
	s.render(w, r, http.StatusOK, "push_wait", pg)
}

// waitingFor returns the request the browser waits for, or an HTTP status
// to answer with.
func (s *Server) waitingFor(r *http.Request) (store.PushRequest, int) {
	var p pendingSignIn
	nonce, err := s.readFlow(r, pendingCookie, &p)
	if err != nil {
		return store.PushRequest{}, http.StatusUnauthorized
	}
	var f pushFlow
	if _, err := s.readFlow(r, pushCookie, &f); err != nil || !f.servesSignIn(p, nonce) || f.RequestID != r.URL.Query().Get("id") {
		return store.PushRequest{}, http.StatusUnauthorized
	}
	req, err := s.push.Get(r.Context(), f.UserID, f.RequestID)
	if err != nil {
		return store.PushRequest{}, http.StatusNotFound
	}
	return req, 0
}

// pushState is what the waiting page learns: pending, approved, denied,
// expired, or locked (push approvals paused after repeated denials).
func (s *Server) pushState(req store.PushRequest) string {
	if req.Status == store.PushPending && !s.now().Before(req.ExpiresAt) {
		return "expired"
	}
	if _, locked := s.push.LockedUntil(req.UserID); locked && req.Status == store.PushPending {
		return "locked"
	}
	if req.Status == store.PushApproved && !req.ConsumedAt.IsZero() {
		return "used"
	}
	return req.Status
}

// handlePushEvents streams the request's outcome as server-sent events.
func (s *Server) handlePushEvents(w http.ResponseWriter, r *http.Request) {
	req, status := s.waitingFor(r)
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.streamPushState(w, r, req)
}

// streamPushState streams the state of req, an app request the browser
// waits for (a sign-in's or a checkout payment's), as server-sent events
// until it is decided, expires or push approvals are locked.
func (s *Server) streamPushState(w http.ResponseWriter, r *http.Request, req store.PushRequest) {
	events, cancel := s.push.Subscribe(req.UserID)
	defer cancel()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(req.ExpiresAt.Sub(s.now()) + 10*time.Second))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	send := func(state string) bool {
		fmt.Fprintf(w, "event: state\ndata: %s\n\n", state)
		rc.Flush()
		return state != store.PushPending
	}
	// Read after subscribing, so a decision in between is not missed.
	if req, err := s.push.Get(r.Context(), req.UserID, req.ID); err != nil || send(s.pushState(req)) {
		return
	}
	expiry := time.NewTimer(req.ExpiresAt.Sub(s.now()))
	defer expiry.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-expiry.C:
			send("expired")
			return
		case e := <-events:
			if !e.LockedUntil.IsZero() {
				send("locked")
				return
			}
			if e.Request.ID == req.ID && send(s.pushState(e.Request)) {
				return
			}
		}
	}
}

// handlePushStatus is the fallback poll: the state as JSON.
func (s *Server) handlePushStatus(w http.ResponseWriter, r *http.Request) {
	req, status := s.waitingFor(r)
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.writePushState(w, req)
}

// writePushState answers the fallback poll for req: its state as JSON.
func (s *Server) writePushState(w http.ResponseWriter, req store.PushRequest) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{"state": s.pushState(req)})
}

// handleFactorPushFinish completes the sign-in once the app approved.
func (s *Server) handleFactorPushFinish(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, nonce, ok := s.pending(w, r)
	if !ok || s.secondFactorThrottled(w, r, p) {
		return
	}
	// The approval serves only the pending sign-in it was started for, and
	// once: a decided request spends the flow state server-side, and an
	// approval is consumed in the store before it completes the sign-in.
	var f pushFlow
	flowNonce, err := s.readFlow(r, pushCookie, &f)
	if err != nil || !f.servesSignIn(p, nonce) {
		s.setCookie(w, pushCookie, "", -1)
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, "factor.push_expired")
		return
	}
	req, err := s.push.Get(r.Context(), f.UserID, f.RequestID)
	if err != nil {
		s.consumeFlow(w, pushCookie, flowNonce)
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, "factor.push_expired")
		return
	}
	state := s.pushState(req)
	if state != store.PushPending && !s.consumeFlow(w, pushCookie, flowNonce) {
		state = "used"
	}
	if state == store.PushApproved {
		if req, err = s.push.Consume(r.Context(), f.UserID, f.RequestID); err != nil {
			if !errors.Is(err, push.ErrConsumed) {
				s.log.ErrorContext(r.Context(), "consume push approval failed", "user_id", f.UserID, "err", err)
			}
			state = "used"
		}
	}
	switch state {
	case store.PushApproved:
		s.finishSecondFactor(w, r, p, nonce, []string{"swk", "mca"},
			map[string]string{"second_factor": "app", "push_request": req.ID, "app_device": req.DeviceID}, p.ReturnTo)
	case store.PushPending:
		pg := s.newPage(w, r)
		pg.Error = pg.T("factor.push_waiting")
		pg.Data = pushWaitPage{RequestID: req.ID, Number: req.Number, Seconds: int(req.ExpiresAt.Sub(s.now()).Seconds())}
		pg.flow = flowRequest(p.ReturnTo)
		s.render(w, r, http.StatusAccepted, "push_wait", pg)
	case "locked":
		s.renderPushLocked(w, r, p)
	case store.PushDenied:
		if !s.secondFactorFailed(r, p.UserID, "app", &devices.RefusedError{Reason: "denied_in_app"}) {
			return
		}
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, "factor.push_denied")
	default:
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, "factor.push_expired")
	}
}

// adminStartAppEnrollment gives an operator a one-time enrollment code for
// a user's app device.
func (s *Server) adminStartAppEnrollment(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	send, ok := s.enrollmentSend(w, r, u)
	if !ok {
		return
	}
	e, err := s.devices.StartAppEnrollment(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	if send == enrollSendEmail {
		s.mailAppEnrollment(w, r, u, e)
		return
	}
	s.adminAudit(r, "app_device.enrollment_started", u.ID, map[string]string{"by": "admin"})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"code": e.Code.Reveal(), "expires_at": e.Expires})
}

// renderPushLocked shows the second-factor page, with the other methods,
// saying that push approvals are paused and until when.
func (s *Server) renderPushLocked(w http.ResponseWriter, r *http.Request, p pendingSignIn) {
	until, _ := s.push.LockedUntil(p.UserID)
	if secs := int(until.Sub(s.now()).Seconds()); secs > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	s.renderFactorPage(w, r, http.StatusTooManyRequests, p, "factor.push_locked")
}
