// Command httpsink is a counting HTTP sink for the HTTP drain benchmark. It
// accepts POSTs on any path, counts the frames of each body — octet-counted
// frames for application/logplex-1, lines for NDJSON and text — answers 204,
// and does nothing else. GET /count answers {"frames":…,"requests":…,
// "bytes":…}. It runs until SIGTERM (or until -n frames arrived, when -n is
// set) and then prints the same JSON on stdout.
//
// Concurrency: net/http serves each connection on its own goroutine; the
// counters are atomics. main owns the server and waits for Shutdown.
package main
