// Package daemon assembles sluiced. New (or NewFromPlan) builds what a Plan
// lists, in data-flow order: the rings, the drain workers (drains/open),
// the router, the ingest sources (ingest/sources: Listeners with a socket
// of their own, Mounted handlers on the HTTP server), the tails and the
// HTTP server on PORT, which routes to the mounted sources by path and
// serves GET /apps/{app}/logs, /healthz, /metrics and /drains. Start binds
// every listener before serving any; Shutdown stops everything in
// data-flow order. A Plan has a Role for the cluster mode to come; only
// RoleAll is built today.
//
// The HTTP server (httpserver.go) is hardened against clients that hold
// connections: PORT's listener caps connections in all and per address
// (internal/connlimit), requests have header and body deadlines that a
// trickle cannot extend, it may serve HTTPS with client certificates, and
// an ingest request whose token is refused is answered before its body is
// read.
//
// A Daemon is started once and shut down once. Its accessors are safe for
// concurrent use after Start returns. Tests run it in-process on 127.0.0.1:0 ports
// (HTTP_HOST).
package daemon
