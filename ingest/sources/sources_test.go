package sources

import (
	"context"
	"testing"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/ingest"
)

type discard struct{}

func (discard) Publish(context.Context, []sluice.Message) error { return nil }
func (discard) TryPublish([]sluice.Message) error               { return nil }

func TestSpecs(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []Kind
	}{
		{"defaults", nil, []Kind{SyslogTCP, SyslogUDP, HTTP, OTLPHTTP}},
		{"syslog off", []string{"SYSLOG_TCP_ADDR=", "SYSLOG_UDP_ADDR="}, []Kind{HTTP, OTLPHTTP}},
		{"udp only", []string{"SYSLOG_TCP_ADDR="}, []Kind{SyslogUDP, HTTP, OTLPHTTP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(tc.env)
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			specs := Specs(cfg)
			if len(specs) != len(tc.want) {
				t.Fatalf("Specs = %+v, want kinds %v", specs, tc.want)
			}
			for i, s := range specs {
				if s.Kind != tc.want[i] {
					t.Fatalf("spec %d is %s, want %s", i, s.Kind, tc.want[i])
				}
				src, err := New(s, ingest.Deps{Publisher: discard{}})
				if err != nil {
					t.Fatalf("New(%+v): %v", s, err)
				}
				if src.Name() != string(s.Kind) {
					t.Fatalf("source of kind %s is named %s", s.Kind, src.Name())
				}
				_, listener := src.(ingest.Listener)
				_, mounted := src.(ingest.Mounted)
				if listener == mounted || listener != (s.Addr != "") {
					t.Fatalf("source %s: listener %v, mounted %v, addr %q", s.Kind, listener, mounted, s.Addr)
				}
				if err := src.Shutdown(context.Background()); err != nil {
					t.Fatalf("Shutdown of an unstarted %s: %v", s.Kind, err)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		deps ingest.Deps
	}{
		{"unknown kind", Spec{Kind: "carrier_pigeon"}, ingest.Deps{Publisher: discard{}}},
		{"tls without certificate", Spec{Kind: SyslogTLS, Addr: "127.0.0.1:0"}, ingest.Deps{Publisher: discard{}}},
		{"no publisher", Spec{Kind: HTTP}, ingest.Deps{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if src, err := New(tc.spec, tc.deps); err == nil {
				t.Fatalf("New = %v, want an error", src)
			}
		})
	}
}
