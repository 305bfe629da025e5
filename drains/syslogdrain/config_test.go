package syslogdrain_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/syslogdrain"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    syslogdrain.Config
		wantErr []string
	}{
		{raw: "syslog://logs.example.com:514", want: syslogdrain.Config{Transport: syslogdrain.TCP, Addr: "logs.example.com:514"}},
		{raw: "SYSLOG+TLS://[::1]:6514?insecure=1&apps=web", want: syslogdrain.Config{Transport: syslogdrain.TLS, Addr: "[::1]:6514", Insecure: true}},
		{raw: "udpsyslog://127.0.0.1:514?max_datagram=1200&format=logplex&drain_token=d.1",
			want: syslogdrain.Config{Transport: syslogdrain.UDP, Addr: "127.0.0.1:514", MaxDatagram: 1200, Format: syslogdrain.FormatLogplex, Token: "d.1"}},
		{raw: "syslog://h:514?format=rfc5424", want: syslogdrain.Config{Transport: syslogdrain.TCP, Addr: "h:514"}},
		{raw: "syslog://u:p@h/x?format=json&drain_token=a%20b&max_datagram=10&insecure=2&y=1",
			wantErr: []string{"missing port", "no credentials", "a path: syslog drains take none", `format="json"`, "drain_token: want printable ASCII", "max_datagram", `insecure="2"`, `unknown parameter "y"`}},
		{raw: "syslog://h:99999", wantErr: []string{`port "99999"`}},
		{raw: "syslog://:514", wantErr: []string{"missing host"}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := url.Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			_, rest, err := drains.ParseOptions(u.Query())
			if err != nil {
				t.Fatal(err)
			}
			c, err := syslogdrain.ParseURL(u, rest)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, config %+v", c)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if strings.Contains(err.Error(), ":p@") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.MaxDatagram == 0 {
				tc.want.MaxDatagram = syslogdrain.DefaultMaxDatagram
			}
			c.Redacted = ""
			if c.Transport != tc.want.Transport || c.Addr != tc.want.Addr || c.Format != tc.want.Format ||
				c.Token != tc.want.Token || c.Insecure != tc.want.Insecure || c.MaxDatagram != tc.want.MaxDatagram {
				t.Fatalf("config %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestL14Text(t *testing.T) {
	got := syslogdrain.L14(`x509: certificate signed by unknown authority "x"`, "syslog+tls://h:6514")
	want := `Error L14 (certificate validation): error="x509: certificate signed by unknown authority \"x\"" uri="syslog+tls://h:6514"`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
