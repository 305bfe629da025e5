// Package testcert makes certificates for tests: a CA per test, server
// certificates for 127.0.0.1 and localhost, client certificates, expired
// ones, and their PEM files in a test's temporary directory. Nothing it
// makes is meant to leave a test.
//
// Concurrency: a CA may issue from several goroutines; everything else is
// plain values.
package testcert
