package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
)

// cibaScenario is a payment approved in the app through OpenID CIBA, end
// to end: a merchant (a CIBA poll client) posts /bc-authorize for an idle
// user with a payment_initiation authorization_details; the user's phone
// (push/deviceclient on a websocket kept open since setup) receives the
// request, picks the number the merchant was given and signs its approval;
// once the server has acknowledged the decision to the phone, the merchant
// redeems the auth_req_id at the token endpoint. One operation is that
// whole round trip, from the backchannel request to the tokens in hand.
//
// The merchant's first token request comes right after the decision, as a
// poll client's first poll may; only when the answer is still
// authorization_pending does it wait the interval the server asked for.
//
// Every user gets one device; a worker takes the user idle the longest
// (a queue, shuffled at setup), so no user has two requests pending at
// once and the requests spread evenly over the users. The server's push
// fatigue defence (by default 10 requests per user in 15 minutes) limits
// how many operations a run may make: raise push_lock.max_requests on a
// server under load.
type cibaScenario struct {
	*fixture
	devs []*benchDevice
	// quiet are the push scenario's idle devices, never asked.
	quiet []*benchDevice
	idle  chan int
	// devCtx keeps the devices' channels open until the teardown.
	devCtx context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	// audit reads the server's audit log for why a device was not asked.
	audit auditReasons
}

// benchDevice is one user's phone: its identity and open channel, with
// the requests and results the channel brought.
type benchDevice struct {
	userID   string
	email    string
	id       *deviceclient.Identity
	conn     *deviceclient.Conn
	requests chan push.RequestView
	results  chan push.Message
	gone     chan struct{} // closed when the channel drops
	err      error         // why, set before gone closes
}

// cibaDetails is a small payment, which the risk engine lets through
// with the app's approval (no step-up the backchannel cannot offer).
const cibaDetails = `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"12.50"},"creditorName":"Bench Shop"}]`

func (s *cibaScenario) Setup(ctx context.Context, workers int) error {
	if s.t.Transport == nil {
		s.t.Transport = NewTransport(workers)
	}
	for range workers {
		s.browsers = append(s.browsers, newBrowser(s.t.Base, s.t.Transport))
	}
	c, err := s.t.Admin.CreateClient(ctx, adminclient.NewOIDCClient{ID: "bench-" + s.run, CIBAMode: "poll"})
	if err != nil {
		return fmt.Errorf("create CIBA client: %w", err)
	}
	s.client, s.secret = c.ID, c.Secret

	n := max(s.t.Users, workers)
	s.devs = make([]*benchDevice, n)
	devCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.devCtx = stop, devCtx
	hc := &http.Client{Transport: s.t.Transport}
	sem := make(chan struct{}, 8)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := s.enroll(ctx, devCtx, hc, fmt.Sprintf("bench-%s-%d@example.com", s.run, i))
			if err != nil {
				errs <- err
				return
			}
			s.devs[i] = d
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	s.idle = make(chan int, n)
	for _, i := range mrand.Perm(n) {
		s.idle <- i
	}
	return nil
}

// enroll creates a user, enrolls a device for it with a code from the
// admin API and connects the device's channel.
func (s *cibaScenario) enroll(ctx, devCtx context.Context, hc *http.Client, email string) (*benchDevice, error) {
	u, err := s.t.Admin.CreateUser(ctx, adminclient.NewUser{Email: email, Name: "Bench " + s.run})
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", email, err)
	}
	s.mu.Lock()
	s.created = append(s.created, u.ID)
	s.mu.Unlock()
	en, err := s.t.Admin.StartAppEnrollment(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("enrollment code for %s: %w", email, err)
	}
	id, err := deviceclient.Activate(ctx, hc, s.t.Base, en.Code, "bench phone", "other")
	if err != nil {
		return nil, fmt.Errorf("activate device of %s: %w", email, err)
	}
	conn, err := id.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect device of %s: %w", email, err)
	}
	d := &benchDevice{userID: u.ID, email: email, id: id, conn: conn,
		requests: make(chan push.RequestView, 4), results: make(chan push.Message, 4), gone: make(chan struct{})}
	s.wg.Go(func() { d.read(devCtx) })
	return d, nil
}

// read hands the channel's requests and results to the worker using the
// device until the channel drops.
func (d *benchDevice) read(ctx context.Context) {
	defer close(d.gone)
	for {
		m, err := d.conn.Next(ctx)
		if err != nil {
			d.err = err
			return
		}
		switch {
		case m.Type == push.MsgRequest && m.Request != nil:
			select {
			case d.requests <- *m.Request:
			default: // nobody is waiting for that many: a stale one
			}
		case m.Type == push.MsgResult:
			select {
			case d.results <- m:
			default:
			}
		}
	}
}

// drain drops what an earlier failed operation left behind.
func (d *benchDevice) drain() {
	for {
		select {
		case <-d.requests:
		case <-d.results:
		default:
			return
		}
	}
}

// backchannelAnswer is /bc-authorize's JSON answer, success or error.
type backchannelAnswer struct {
	AuthReqID     string `json:"auth_req_id"`
	ExpiresIn     int    `json:"expires_in"`
	Interval      int    `json:"interval"`
	BindingNumber int    `json:"binding_number"`
	Error         string `json:"error"`
	Description   string `json:"error_description"`
}

// deviceWait bounds how long the phone waits for a request before the
// merchant asks the token endpoint why none came.
const deviceWait = 10 * time.Second

func (s *cibaScenario) Do(ctx context.Context, w int) error {
	var u int
	select {
	case u = <-s.idle:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.idle <- u }()
	d, b := s.devs[u], s.browsers[w]
	select {
	case <-d.gone:
		return opErr("device_disconnected", "%s: %v", d.email, d.err)
	default:
	}
	d.drain()

	a, err := b.post(ctx, "/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {d.email},
		"binding_message": {"Order " + randomString(4)}, "authorization_details": {cibaDetails}}, s.client, s.secret)
	if err != nil {
		return err
	}
	var bc backchannelAnswer
	if jerr := json.Unmarshal(a.body, &bc); jerr != nil || a.status != http.StatusOK || bc.AuthReqID == "" {
		if bc.Error != "" {
			return opErr("bc_authorize_"+bc.Error, "%s", bc.Description)
		}
		return opErr(fmt.Sprintf("bc_authorize_http_%d", a.status), "POST /bc-authorize")
	}

	// The phone: the request arrives, the person picks the number the
	// merchant shows, the app signs its approval and the server confirms.
	timer := time.NewTimer(deviceWait)
	defer timer.Stop()
	var req push.RequestView
	select {
	case req = <-d.requests:
	case <-d.gone:
		return opErr("device_disconnected", "%s: %v", d.email, d.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		// Why: the merchant is not told (a request the server would not
		// send to the app stays pending, as an unknown user's does); the
		// audit log has the reason (for instance push_rate_limited, the
		// fatigue defence).
		t, err := b.token(ctx, url.Values{"grant_type": {cibaGrant}, "auth_req_id": {bc.AuthReqID}}, s.client, s.secret)
		if err == nil {
			return opErr("ciba_token_without_approval", "tokens for a request the device never saw")
		}
		if t.Error == "access_denied" {
			return opErr("ciba_denied_"+t.Description, "the server refused the request (%s)", t.Description)
		}
		if reason := s.audit.reason(ctx, s.t.Admin, d.userID); reason != "" {
			return opErr("ciba_refused_"+reason, "the server did not ask the device (%s, from its audit log)%s", reason, fatigueHint(reason))
		}
		return opErr("device_no_request", "no request reached the device in %v: %v", deviceWait, err)
	}
	n := bc.BindingNumber
	if n != 0 && !slices.Contains(req.Choices, n) {
		return opErr("binding_number_not_offered", "number %d is not among the choices %v", n, req.Choices)
	}
	if req.Kind != "payment" || req.Amount != "12.50" || req.Currency != "EUR" {
		return opErr("device_wrong_request", "the device was shown %s %s %s", req.Kind, req.Amount, req.Currency)
	}
	dec, err := d.id.Sign(req, deviceclient.Answer{Approve: true, Number: n})
	if err != nil {
		return err
	}
	if err := d.conn.Send(dec); err != nil {
		return opErr("device_send", "%v", err)
	}
	for {
		var m push.Message
		select {
		case m = <-d.results:
		case <-d.gone:
			return opErr("device_disconnected", "%s: %v", d.email, d.err)
		case <-ctx.Done():
			return ctx.Err()
		}
		if m.RequestID != "" && m.RequestID != req.ID {
			continue
		}
		if !m.OK {
			return opErr("device_refused_"+m.Reason, "the server refused the approval")
		}
		break
	}

	// The merchant: the first poll finds the approval; a pending answer
	// waits the interval, as the server asks.
	form := url.Values{"grant_type": {cibaGrant}, "auth_req_id": {bc.AuthReqID}}
	for {
		t, err := b.token(ctx, form, s.client, s.secret)
		if err == nil {
			if t.IDToken == "" {
				return opErr("ciba_no_id_token", "the tokens have no ID token")
			}
			return nil
		}
		if t.Error != "authorization_pending" && t.Error != "slow_down" {
			return err
		}
		wait := time.Duration(max(bc.Interval, 1)) * time.Second
		if t.Error == "slow_down" {
			bc.Interval += 5
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

const cibaGrant = "urn:openid:params:grant-type:ciba"

// auditReasons follows the server's audit log for the reasons CIBA
// requests were not sent to the app, newest per user.
type auditReasons struct {
	mu     sync.Mutex
	after  uint64
	byUser map[string]string
}

// auditScanPages bounds one look at the audit log (1000 events a page).
const auditScanPages = 50

// reason reads the audit log on from where the last look stopped and
// returns the newest refusal reason recorded for the user, "" if none.
func (a *auditReasons) reason(ctx context.Context, admin *adminclient.Client, userID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byUser == nil {
		a.byUser = map[string]string{}
	}
	for range auditScanPages {
		evs, err := admin.Audit(ctx, a.after, 1000)
		if err != nil {
			break
		}
		for _, ev := range evs {
			a.after = ev.Seq
			if ev.Kind == "ciba.requested" && ev.Subject != "" {
				a.byUser[ev.Subject] = ev.Details["reason"]
			}
		}
		if len(evs) < 1000 {
			break
		}
	}
	return a.byUser[userID]
}

func fatigueHint(reason string) string {
	if reason == "push_rate_limited" {
		return "; raise push_lock.max_requests in the server's configuration for load runs"
	}
	return ""
}

func (s *cibaScenario) Teardown(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
	}
	for _, d := range s.devs {
		if d != nil {
			d.conn.Close()
		}
	}
	for _, d := range s.quiet {
		d.conn.Close()
	}
	s.wg.Wait()
	return s.fixture.Teardown(ctx)
}
