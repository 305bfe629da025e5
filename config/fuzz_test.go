package config

import (
	"strings"
	"testing"
)

// FuzzLoad sets up to two documented variables (and one DRAIN_<NAME>) to
// arbitrary values: Load never panics, an error names the variable it is
// about, and an accepted configuration stays within the documented
// bounds.
func FuzzLoad(f *testing.F) {
	f.Add(uint8(0), "8080", uint8(1), ":5514", "x", "http://h/")
	f.Add(uint8(7), "16MiB", uint8(8), "1x", "y", "")
	f.Add(uint8(30), "-1", uint8(31), "99999999999999999999", "a_b", "kafka://")
	f.Add(uint8(12), "Europe/Berlin", uint8(20), "Local", "", "=")
	f.Add(uint8(2), "[::1]:0", uint8(3), "host:port:x", "Ä", "\x00")
	f.Fuzz(func(t *testing.T, i uint8, v1 string, j uint8, v2, drainName, drainURL string) {
		a, b := Vars[int(i)%len(Vars)], Vars[int(j)%len(Vars)]
		env := []string{a.Name + "=" + v1, b.Name + "=" + v2, "DRAIN_" + drainName + "=" + drainURL}
		c, err := Load(env)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, a.Name) && !strings.Contains(msg, b.Name) && !strings.Contains(msg, "DRAIN_") &&
				!strings.Contains(msg, "TOKENS") && !strings.Contains(msg, "ADMIN_TOKEN") {
				t.Fatalf("Load(%q): error names no variable: %v", env, err)
			}
			return
		}
		switch {
		case c.Port < 0 || c.Port > 65535:
			t.Fatalf("Load(%q): PORT %d", env, c.Port)
		case c.MaxBodyBytes < 1024 || c.MaxMessageBytes < 128 || c.BufferLines < 1 || c.BufferBytes < 1024:
			t.Fatalf("Load(%q): a size below its minimum: %+v", env, c)
		case c.SyslogIdle <= 0 || c.ShutdownTimeout < 0:
			t.Fatalf("Load(%q): durations %s %s", env, c.SyslogIdle, c.ShutdownTimeout)
		case c.AppRateLimit < 0 || c.AppRateBurst < 0 || (c.AppRateBurst > 0 && c.AppRateLimit == 0):
			t.Fatalf("Load(%q): rate limit %d burst %d", env, c.AppRateLimit, c.AppRateBurst)
		case c.SyslogTimezone == nil:
			t.Fatalf("Load(%q): no timezone", env)
		}
		for name := range c.Drains {
			if name == "" || name != strings.ToLower(name) {
				t.Fatalf("Load(%q): drain name %q", env, name)
			}
		}
	})
}
