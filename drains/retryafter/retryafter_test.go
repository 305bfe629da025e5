package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 3 ", 3 * time.Second, true},
		{"600", Max, true},
		{"86400", Max, true},
		{"99999999999999999999", 0, false}, // overflows int64: malformed
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"3\r\nX-Injected: 1", 0, false},
		{date(90 * time.Second), 90 * time.Second, true},
		{date(-time.Hour), 0, true},
		{date(48 * time.Hour), Max, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Parse(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("Parse(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "1", "-1", "600", "Wed, 02 Dec 2026 04:01:30 GMT", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := Parse(v, now)
		if d < 0 || d > Max || (!ok && d != 0) {
			t.Fatalf("Parse(%q) = %s, %v", v, d, ok)
		}
	})
}
