// Package daemon assembles sluiced: it builds the rings, the drain workers
// and the router from a validated config, binds the HTTP and syslog
// listeners, serves the HTTP routes (POST /logs, GET /apps/{app}/logs,
// /healthz, /metrics, /drains), and shuts everything down in data-flow
// order on request.
//
// A Daemon is started once and shut down once. Its accessors are safe for
// concurrent use after Start returns. Tests run it in-process on :0 ports.
package daemon
