package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Port != 8080 || c.SyslogTCPAddr != ":5514" || c.SyslogUDPAddr != ":5514" ||
		c.MaxBodyBytes != 16<<20 || c.MaxMessageBytes != 64<<10 || c.BufferLines != 1500 ||
		c.ShutdownTimeout != 10*time.Second || c.Tokens.Enabled() || len(c.Drains) != 0 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestOverridesAndDrains(t *testing.T) {
	c, err := Load([]string{"PORT=9000", "SYSLOG_UDP_ADDR=", "BUFFER_BYTES=2MiB", "DRAIN_ES_1=elasticsearch://h:9200", "TOKENS=t.a=web"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.SyslogUDPAddr != "" || c.BufferBytes != 2<<20 || c.Drains["es_1"] != "elasticsearch://h:9200" || !c.Tokens.Enabled() {
		t.Fatalf("%+v", c)
	}
}

func TestEveryErrorAtOnce(t *testing.T) {
	_, err := Load([]string{"PORT=99999", "SYSLOG_TCP_ADDR=nohost", "BUFFER_LINES=0", "MAX_BODY_BYTES=12parsecs",
		"SHUTDOWN_TIMEOUT=soon", "LOG_LEVEL=loud", "TOKENS=t.a", "DRAIN_=x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`PORT "99999"`, `SYSLOG_TCP_ADDR "nohost"`, `BUFFER_LINES "0"`, `MAX_BODY_BYTES "12parsecs"`,
		`SHUTDOWN_TIMEOUT "soon"`, `LOG_LEVEL "loud"`, "TOKENS entry 1", "DRAIN_:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true}, {"16MiB", 16 << 20, true}, {"64KiB", 64 << 10, true}, {"2GB", 2e9, true},
		{"10k", 10 << 10, true}, {"1 MiB", 1 << 20, true}, {"", 0, false}, {"MiB", 0, false}, {"5XB", 0, false},
		{"99999999999999999999", 0, false},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSize(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Fatalf("ParseSize(%q) = %d, %v", c.in, got, err)
			}
		})
	}
}

// TestREADMETable keeps the README's configuration table in step with
// Vars (which sluiced -help prints): same variables, same order, same
// defaults.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| `") && strings.Count(l, "|") >= 4 {
			cells := strings.Split(l, "|")
			name := strings.Trim(strings.TrimSpace(cells[1]), "`")
			if name == strings.ToUpper(name) && !strings.Contains(name, " ") && !strings.HasPrefix(name, "SLUICE") {
				rows = append(rows, name+"="+strings.Trim(strings.TrimSpace(cells[2]), "`"))
			}
		}
	}
	var want []string
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = "(unset)"
		}
		want = append(want, v.Name+"="+def)
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README table and config.Vars differ\nREADME:\n  %s\nVars:\n  %s", strings.Join(rows, "\n  "), strings.Join(want, "\n  "))
	}
}
