// Command sluice is the developer's client of a Sluice router: `sluice logs`
// prints an app's recent lines and, with --tail, streams new ones, the way
// `heroku logs --tail` does.
//
// It owns the command line (subcommands, flags, help text), the HTTP client
// of GET /apps/{app}/logs, colouring of the output on a terminal, and the
// reconnect-and-dedupe loop of --tail.
//
// Concurrency: run is single-threaded apart from one reader goroutine per
// open response, which splits the body into lines and hands them over a
// channel. The stream that started it cancels the request, stops it and
// waits for it before returning; only the main goroutine writes the output.
package main
