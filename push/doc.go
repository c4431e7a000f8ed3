// Package push will own approval requests sent to the company's mobile app:
// creating a request with its context (sign-in or payment, amount and payee),
// number matching, dispatch over FCM and websockets, and verifying the
// device-signed decision that binds amount and payee (PSD2 dynamic linking).
//
// It knows nothing of HTTP and must never import authserver.
package push
