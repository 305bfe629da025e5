package gunzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice/internal/budget"
)

func gz(t *testing.T, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts { // one gzip member each
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestAppend(t *testing.T) {
	bomb := strings.Repeat("a", 8<<20)
	for _, tc := range []struct {
		name  string
		src   []byte
		limit int64
		want  string
		err   string
	}{
		{"one member", gz(t, "hello\n"), 100, "hello\n", ""},
		{"two members", gz(t, "a\n", "b\n"), 100, "a\nb\n", ""},
		{"exactly the limit", gz(t, "12345"), 5, "12345", ""},
		{"one byte over", gz(t, "123456"), 5, "", "too large"},
		{"bomb", gz(t, bomb), 1 << 20, "", "too large"},
		{"truncated", gz(t, "hello world")[:15], 100, "", "gzip"},
		{"not gzip", []byte("plain text"), 100, "", "gzip header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Append([]byte("x"), tc.src, tc.limit+1) // dst already holds one byte
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			case tc.err == "" && string(got) != "x"+tc.want:
				t.Fatalf("got %q, want %q", got, "x"+tc.want)
			}
			// append's growth may round a buffer up, never past twice
			// what it holds: a bomb costs at most about twice the limit.
			if int64(cap(got)) > 2*(tc.limit+1)+4096 {
				t.Fatalf("grew to %d bytes for a limit of %d", cap(got), tc.limit+1)
			}
			if tc.err == "too large" && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v is not ErrTooLarge", err)
			}
		})
	}
}

// A bomb under a lease smaller than its limit stops with ErrOverBudget,
// having allocated no more than the lease allowed; a body within the lease
// decompresses whole.
func TestAppendWithin(t *testing.T) {
	bomb := gz(t, strings.Repeat("a", 8<<20))
	pool := budget.NewPool(1 << 20)
	l := pool.Lease()
	got, err := AppendWithin(nil, bomb, 16<<20, &l)
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("error %v, want ErrOverBudget", err)
	}
	if int64(cap(got)) > l.Held() || l.Held() > pool.Limit() {
		t.Fatalf("buffer %d bytes, lease %d of %d", cap(got), l.Held(), pool.Limit())
	}
	l.Release()
	small := gz(t, "hello\n")
	got, err = AppendWithin(nil, small, 16<<20, &l)
	if err != nil || string(got) != "hello\n" || l.Held() < int64(cap(got)) {
		t.Fatalf("got %q, %v; lease %d for %d bytes", got, err, l.Held(), cap(got))
	}
	l.Release()
	if pool.Used() != 0 {
		t.Fatalf("pool holds %d after release", pool.Used())
	}
}

func TestMeasure(t *testing.T) {
	for _, tc := range []struct {
		name        string
		src         []byte
		limit       int64
		size, lines int
		err         string
	}{
		{"two members", gz(t, "a\n", "b\nc"), 100, 5, 2, ""},
		{"bomb", gz(t, strings.Repeat("a\n", 4<<20)), 1 << 20, 0, 0, "too large"},
		{"truncated", gz(t, "hello world")[:15], 100, 0, 0, "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size, lines, err := Measure(tc.src, tc.limit)
			switch {
			case tc.err == "" && (err != nil || size != int64(tc.size) || lines != tc.lines):
				t.Fatalf("got %d bytes, %d lines, %v", size, lines, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}
