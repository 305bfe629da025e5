package syslogdrain_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice"

	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/draintest"
)

// TestConformance runs the drain conformance suite over each transport
// against a real receiver on loopback.
func TestConformance(t *testing.T) {
	pki := newPKI(t, "conformance")
	for _, tc := range []struct {
		name, scheme, network string
		tls                   bool
	}{
		{"tcp", "syslog", "tcp", false},
		{"tls", "syslog+tls", "tcp", true},
		{"udp", "udpsyslog", "udp", false},
		{"tcp-logplex", "syslog", "tcp", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *receiver
			if tc.tls {
				r = newReceiver(t, tc.network, pki.serverTLS())
			} else {
				r = newReceiver(t, tc.network, nil)
			}
			raw := tc.scheme + "://" + r.addr()
			logplex := tc.name == "tcp-logplex"
			if logplex {
				raw += "?format=logplex"
			}
			read := r.read
			if logplex { // the app is in HOSTNAME; the text ends with the LF Logplex adds
				read = func(t *testing.T, ctx context.Context) []sluice.Message {
					ms := r.read(t, ctx)
					for i := range ms {
						ms[i].App, ms[i].Text = ms[i].Host, strings.TrimSuffix(ms[i].Text, "\n")
					}
					return ms
				}
			}
			draintest.Run(t, draintest.Harness{
				New: func(t *testing.T) drains.Drain {
					var d drains.Drain
					if tc.tls {
						d, _ = newDrain(t, raw, pki.clientTLS(), nil)
					} else {
						d, _ = newDrain(t, raw, nil, nil)
					}
					return d
				},
				Read: read,
			})
		})
	}
}
