// Package fcm wakes app devices through Firebase Cloud Messaging: a data
// message carrying only the request id and a collapse key, no personal
// data; the app then fetches the request over its own channel. Tokens FCM
// reports unregistered are dropped.
//
// It is kept apart from push so that only a server configured for FCM
// links the Firebase SDK's dependencies into its tests. It must never
// import authserver.
package fcm
