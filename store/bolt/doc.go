// Package bolt is the embedded store.Store backend: one bbolt file, one
// writer at a time, with concurrent small writes (audit events, counters)
// batched into shared commits.
//
// bolt imports only the store package and the bbolt driver; it must never
// import a domain package (risk, push, devices, profiles) or the HTTP layer.
// It sees personal data only in its sealed form.
package bolt
