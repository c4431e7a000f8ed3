// Package bolt is the embedded store.Store backend: one bbolt file, one
// writer at a time, with concurrent small writes (audit events, counters,
// history appends) batched into shared commits.
//
// bolt imports only the store package and the bbolt driver; it must never
// import a domain package (risk, push, devices, profiles) or the HTTP layer.
// Profile data reaches it only sealed. The risk history (addresses, coarse
// locations, device ids) is stored as the store contract hands it over, and
// DeleteUser erases it with the user.
package bolt
