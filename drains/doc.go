// Package drains owns the delivery of an app's messages to the destinations
// configured as DRAIN_<NAME> URLs: the Drain contract every destination
// implements, and the Worker that gives each drain one bounded queue (by
// count and bytes), one goroutine, batching by size and age, retries with
// backoff, the drop/block backpressure policies, in-band L10 drop reports
// (under the batch limits and summarised, notices.go) and the accounting
// invariant received = delivered + dropped + queued.
//
// Destinations live in sub-packages, one per protocol: drains/httpdrain,
// drains/kafka, drains/elasticsearch. The conformance suite every drain
// passes is drains/draintest.
package drains
