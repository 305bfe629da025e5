// Package cluster answers reads in cluster mode from the process that
// owns the app: it finds the owner of an app's partition in Kafka's view
// of the consumer group (bus.Members, cached briefly) and proxies the
// request there, signed with CLUSTER_SECRET so the owner can tell a
// member's request from a client's.
//
// The proof is an HMAC-SHA256 over the method, the request URI and a Unix
// timestamp, sent in the Sluice-Cluster-Proof header as "TIMESTAMP.HEX";
// a proof older or newer than 30 seconds is refused. A request carrying
// the header is never proxied again (no loops).
//
// Concurrency: a Proxy is safe for concurrent use.
package cluster
