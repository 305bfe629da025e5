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
// A Daemon is started once and shut down once. Its accessors are safe for
// concurrent use after Start returns. Tests run it in-process on :0 ports.
package daemon
