// Package frames splits a byte stream into syslog frames and counts them,
// doing nothing else: it is the framing-only limit the router is measured
// against, and the counter of the HTTP sink. A frame that starts with a
// digit is octet-counted ("LEN SP MSG", RFC 6587 3.4.1); any other frame
// runs to the next LF (3.4.2). Empty LF frames (a stray LF or CR LF between
// octet-counted frames) are skipped.
//
// Concurrency: a Scanner belongs to one goroutine.
package frames
