package authserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store"
)

// TestPushLockShownOnWaitingPage: three wrong numbers while the browser
// waits lock push approvals. The waiting page learns "locked" (stream and
// poll), finishing shows the other methods with the reason, the right
// number is refused after that, and a new push is refused until the lock
// ends; an operator can lift it.
func TestPushLockShownOnWaitingPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	id := b.enrollApp(ctx)
	if r := b.submit("/security", "/security/recovery", url.Values{}); r.status != http.StatusOK {
		t.Fatalf("recovery codes: %d", r.status)
	}
	b.signOut()
	wantRedirect(t, "password", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	conn, err := id.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wait := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
	nm, rm := pushNumberRE.FindStringSubmatch(wait.body), pushWaitRE.FindStringSubmatch(wait.body)
	if wait.status != http.StatusOK || nm == nil || rm == nil {
		t.Fatalf("waiting page: %d %s", wait.status, truncate(wait.body, 800))
	}
	number, _ := strconv.Atoi(nm[1])
	req := *nextOfType(t, conn, push.MsgRequest).Request
	wrong := req.Choices[0]
	if wrong == number {
		wrong = req.Choices[1]
	}
	for i := range 3 {
		d, _ := id.Sign(req, deviceclient.Answer{Approve: true, Number: wrong})
		conn.Send(d)
		if res := nextOfType(t, conn, push.MsgResult); res.OK || res.Reason != "wrong_number" {
			t.Fatalf("wrong number %d: %+v", i, res)
		}
	}
	if ev := e.lastEvent("push.locked"); ev.Details["request_id"] != req.ID || ev.Details["until"] == "" {
		t.Errorf("push.locked = %+v", ev)
	}
	// The stream and the poll both say locked.
	if r := b.get("/signin/factor/push/events?id=" + rm[1]); !strings.Contains(r.body, "data: locked") {
		t.Errorf("event stream: %d %q", r.status, r.body)
	}
	var st struct{ State string }
	if r := b.get("/signin/factor/push/status?id=" + rm[1]); json.Unmarshal([]byte(r.body), &st) != nil || st.State != "locked" {
		t.Errorf("status: %q", r.body)
	}
	// The right number now is refused, and the request stays pending.
	d, _ := id.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	conn.Send(d)
	if res := nextOfType(t, conn, push.MsgResult); res.OK || res.Reason != "locked" {
		t.Fatalf("approval while locked: %+v", res)
	}
	users, _ := e.db.ListUsers(ctx, "", 10)
	userID := users[0].ID
	if got, _ := e.db.GetPushRequest(ctx, userID, req.ID); got.Status != store.PushPending {
		t.Errorf("request after a refused approval: %s", got.Status)
	}
	// Finishing shows the other methods and why.
	fin := b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}})
	if fin.status != http.StatusTooManyRequests || fin.header.Get("Retry-After") == "" {
		t.Fatalf("finish while locked: %d %v", fin.status, fin.header)
	}
	mustContain(t, "finish while locked", fin.body, "paused for a while")
	mustContain(t, "finish while locked", fin.body, `action="/signin/factor/recovery"`)
	if r := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "paused for a while") {
		t.Fatalf("new push while locked: %d", r.status)
	}
	if ev := e.lastEvent("push.refused"); ev.Details["reason"] != "locked" {
		t.Errorf("push.refused = %+v", ev)
	}

	// The operator sees the lock and lifts it.
	var lock pushLock
	if r := e.admin("GET", "/admin/v1/users/ada@example.com/push-lock", nil); r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &lock) != nil || !lock.Locked {
		t.Fatalf("push-lock: %d %s", r.status, r.body)
	}
	if r := e.admin("DELETE", "/admin/v1/users/ada@example.com/push-lock", nil); r.status != http.StatusNoContent {
		t.Fatalf("unlock: %d %s", r.status, r.body)
	}
	if r := e.admin("DELETE", "/admin/v1/users/ada@example.com/push-lock", nil); r.status != http.StatusNotFound {
		t.Errorf("second unlock: %d", r.status)
	}
	d, _ = id.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	conn.Send(d)
	if res := nextOfType(t, conn, push.MsgResult); !res.OK {
		t.Fatalf("approval after unlock: %+v", res)
	}
}

// TestPushFCMTokenUpdate: the device replaces and removes its FCM token
// over its authenticated channel; a malformed token is refused.
func TestPushFCMTokenUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	id := b.enrollApp(ctx)
	conn, err := id.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	token := func() string {
		k, err := e.srv.devices.AppDeviceKey(ctx, id.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		return k.FCMToken
	}
	for _, tc := range []struct {
		token, reason, want string
	}{
		{"fcm-token-1:APA91b", "", "fcm-token-1:APA91b"},
		{"bad token with spaces", "malformed", "fcm-token-1:APA91b"},
		{strings.Repeat("x", 4097), "malformed", "fcm-token-1:APA91b"},
		{"", "", ""},
	} {
		if err := conn.SendFCMToken(tc.token); err != nil {
			t.Fatal(err)
		}
		res := nextOfType(t, conn, push.MsgToken)
		if res.OK != (tc.reason == "") || res.Reason != tc.reason {
			t.Errorf("token %.20q: %+v", tc.token, res)
		}
		if got := token(); got != tc.want {
			t.Errorf("token %.20q: stored %q, want %q", tc.token, got, tc.want)
		}
	}
	if ev := e.lastEvent("app_device.fcm_token_updated"); ev.Actor != id.DeviceID || ev.Details["removed"] != "true" {
		t.Errorf("fcm_token_updated = %+v", ev)
	}
}

// TestAdminAppDevices: the operator lists, renames and revokes a user's
// app devices; a revoked device's open channel gets no more requests and
// it cannot reconnect.
func TestAdminAppDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	id := b.enrollApp(ctx)
	base := "/admin/v1/users/ada@example.com/app-devices"
	var list appDeviceList
	if r := e.admin("GET", base, nil); r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &list) != nil || len(list.Devices) != 1 || list.Devices[0].ID != id.DeviceID {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{base + "/" + id.DeviceID, `{"name":"Ada's work phone"}`, http.StatusOK},
		{base + "/" + id.DeviceID, `{"name":""}`, http.StatusBadRequest},
		{base + "/" + id.DeviceID, `{"name":"a\u0007b"}`, http.StatusBadRequest},
		{base + "/" + id.DeviceID, `{"name":"x","extra":1}`, http.StatusBadRequest},
		{base + "/app_nosuch", `{"name":"x"}`, http.StatusNotFound},
		{"/admin/v1/users/nobody@example.com/app-devices/" + id.DeviceID, `{"name":"x"}`, http.StatusNotFound},
	} {
		if r := e.admin("PATCH", tc.path, tc.body); r.status != tc.want {
			t.Errorf("PATCH %s %s: %d, want %d: %s", tc.path, tc.body, r.status, tc.want, r.body)
		}
	}
	mustContain(t, "security page", b.get("/security").body, "Ada&#39;s work phone")

	conn, err := id.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if r := e.admin("DELETE", base+"/"+id.DeviceID, nil); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if ev := e.lastEvent("app_device.revoked"); ev.Actor != "admin" || ev.Details["device_id"] != id.DeviceID {
		t.Errorf("revoked = %+v", ev)
	}
	if r := e.admin("DELETE", base+"/"+id.DeviceID, nil); r.status != http.StatusNotFound {
		t.Errorf("second revoke: %d", r.status)
	}
	// A request now does not reach the revoked device's open channel.
	users, _ := e.db.ListUsers(ctx, "", 10)
	if _, err := e.srv.push.Create(ctx, push.NewRequest{UserID: users[0].ID, Kind: store.PushSignIn, RPName: "Assent"}); err != nil {
		t.Fatal(err)
	}
	if m := nextOfType(t, conn, push.MsgError); m.Reason != "unknown_device" {
		t.Errorf("revoked channel got %+v", m)
	}
	if _, err := id.Connect(ctx); err == nil || !strings.Contains(err.Error(), "unknown_device") {
		t.Errorf("revoked device reconnected: %v", err)
	}
}

// TestSecurityPageAppDevices: the user renames and removes an app device
// on the security page; the removed one is revoked at once.
func TestSecurityPageAppDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	keep := b.enrollApp(ctx)
	gone := b.enrollApp(ctx)
	wantRedirect(t, "rename", b.submit("/security", "/security/factors/"+keep.DeviceID+"/rename", url.Values{"name": {"Ada's tablet"}}), "/security?done=renamed")
	sec := b.get("/security").body
	mustContain(t, "security page", sec, "Ada&#39;s tablet")
	mustContain(t, "security page", sec, `action="/security/factors/`+gone.DeviceID+`/remove"`)
	wantRedirect(t, "remove", b.submit("/security", "/security/factors/"+gone.DeviceID+"/remove", url.Values{}), "/security?done=removed")
	if strings.Contains(b.get("/security").body, gone.DeviceID) {
		t.Error("the removed device is still listed")
	}
	if _, err := gone.Connect(ctx); err == nil || !strings.Contains(err.Error(), "unknown_device") {
		t.Errorf("removed device connected: %v", err)
	}
	if _, err := keep.Connect(ctx); err != nil {
		t.Errorf("the other device: %v", err)
	}
}

// TestPushNumberMatchingByRisk: under the "risk" policy a sign-in that is
// not low risk is asked for the number; a low-risk one that steps up (the
// relying party asked for mfa) gets a request without a number: the page
// shows none and the app approves with none.
func TestPushNumberMatchingByRisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PushNumberMatching = push.NumberByRisk })
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	id := b.enrollApp(ctx)
	conn, err := id.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	approve := func(wantNumber bool) {
		t.Helper()
		wait := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
		nm := pushNumberRE.FindStringSubmatch(wait.body)
		if wait.status != http.StatusOK || (nm != nil) != wantNumber {
			t.Fatalf("waiting page (number wanted: %v): %d %s", wantNumber, wait.status, truncate(wait.body, 800))
		}
		req := *nextOfType(t, conn, push.MsgRequest).Request
		a := deviceclient.Answer{Approve: true}
		if wantNumber {
			a.Number, _ = strconv.Atoi(nm[1])
		} else {
			mustContain(t, "waiting page", wait.body, "approve the request")
			if len(req.Choices) != 0 {
				t.Fatalf("choices %v without number matching", req.Choices)
			}
		}
		d, _ := id.Sign(req, a)
		conn.Send(d)
		if res := nextOfType(t, conn, push.MsgResult); !res.OK {
			t.Fatalf("approval: %+v", res)
		}
		wantRedirect(t, "finish", b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}), "/account")
		if ev := e.lastEvent("push.created"); ev.Details["number_matching"] != strconv.FormatBool(wantNumber) {
			t.Errorf("push.created = %+v", ev.Details)
		}
	}
	// The first sign-in after enrolling is not low risk: number matching.
	b.signOut()
	wantRedirect(t, "first sign-in", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	if lvl := e.lastEvent("risk.assessed").Details["level"]; lvl == "low" {
		t.Fatalf("first sign-in assessed low")
	}
	approve(true)
	// The same browser later: low risk, the password is enough ...
	b.signOut()
	e.clock.Advance(2 * time.Hour) // a device is known once seen for an hour
	wantRedirect(t, "low-risk sign-in", b.signIn("ada@example.com", "correct horse battery"), "/account")
	// ... unless the relying party asks for mfa: then no number to match.
	b.signOut()
	wantRedirect(t, "step-up", b.submit("/signin", "/signin", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}, "acr": {"mfa"}}), "/signin/factor")
	if lvl := e.lastEvent("risk.assessed").Details["level"]; lvl != "low" {
		t.Fatalf("step-up assessed %q, want low", lvl)
	}
	approve(false)
}
