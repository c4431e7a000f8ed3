// Package push owns approval requests sent to the company's mobile app:
// creating a request with its context (sign-in or payment, amount and payee),
// number matching, the wire protocol the app speaks (protocol.go), fanning
// requests out to connected devices, and verifying the device-signed
// decision that binds amount and payee (PSD2 dynamic linking). The first
// valid decision wins atomically in the store.
//
// It knows nothing of HTTP and must never import authserver; the server
// carries its messages over a websocket and its outcome to the browser.
package push
