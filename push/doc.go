// Package push owns approval requests sent to the company's mobile app:
// creating a request with its context (sign-in or payment, amount and payee),
// number matching, the fatigue defence (one pending request per user and
// relying party, a per-user rate limit, a temporary lock after repeated
// denials), the wire protocol the app speaks (protocol.go), fanning
// requests out to connected devices, and verifying the device-signed
// decision that binds amount and payee (PSD2 dynamic linking). The first
// valid decision wins atomically in the store.
//
// It knows nothing of HTTP and must never import authserver; the server
// carries its messages over a websocket and its outcome to the browser.
//
// # Asking for an approval from Go
//
// A flow that needs a person's approval (the sign-in page, CIBA, a payment
// initiation) creates a request and waits for it:
//
//	amount, _ := push.FormatMinor(129900, 2) // "1299.00"
//	r, err := svc.Create(ctx, push.NewRequest{
//		UserID: userID, Kind: store.PushPayment, RPName: "Example Bank",
//		Amount: amount, Currency: "EUR", Payee: "Example Shop Oy",
//		IP: ip, Country: country, Browser: userAgent, RiskLevel: "medium",
//	})
//	// errors.Is(err, push.ErrPending | ErrLocked | ErrRateLimited | ErrInvalidRequest)
//	// Show r.Number where the person can see it (0: no number to match).
//	got, err := svc.Wait(ctx, userID, r.ID)
//	// err == nil: got.Status is store.PushApproved or store.PushDenied
//	// (got.NotMe for "this wasn't me", got.DeviceID the device);
//	// push.ErrExpired, push.ErrLocked, or ctx's error otherwise.
//
// An approval of a payment is a device signature over the request id, its
// nonce, the picked number and the amount, currency and payee exactly as
// stored: Decide refuses any other (ErrTampered, ErrBadSignature) and a
// signature by a revoked device or one of another user (ErrUnknownDevice,
// ErrUnknownRequest), leaving the request unchanged. Subscribe and
// SubscribeFunc deliver every event of a user for those that watch
// several requests; LockedUntil and Unlock serve the fatigue lock.
package push
