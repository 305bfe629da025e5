package frames_test

import (
	"bytes"
	"testing"
	"testing/iotest"

	"github.com/sluice-logs/sluice/benchmarks/internal/frames"
)

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    frames.Mode
		in      string
		want    int64
		wantErr bool
	}{
		{"octet", frames.Auto, "5 hello3 abc", 2, false},
		{"octet with LF between", frames.Auto, "5 hello\n3 abc\r\n", 2, false},
		{"lf", frames.Auto, "<13>1 a\n<13>1 b\n", 2, false},
		{"partial last frame", frames.Auto, "5 hello9 abc", 1, false},
		{"lines mode counts digit lines", frames.Lines, "12 x\n{\"a\":1}\n", 2, false},
		{"bad count", frames.Auto, "5x hello", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got int64
			// One byte per read exercises every resumption point.
			err := frames.NewScanner(tc.mode, 4).Scan(iotest.OneByteReader(bytes.NewReader([]byte(tc.in))), func(k int64) { got += k })
			if (err != nil) != tc.wantErr {
				t.Fatalf("Scan error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("Scan counted %d, want %d", got, tc.want)
			}
		})
	}
}
