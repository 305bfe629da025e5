package octet

import "testing"

func TestAppendFrame(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"", "0 "},
		{"<13>1 - - - - - hi", "18 <13>1 - - - - - hi"},
		{"a\nb", "3 a\nb"},
	} {
		if got := string(AppendFrame([]byte("x"), []byte(tc.msg))); got != "x"+tc.want {
			t.Errorf("AppendFrame(%q) = %q, want %q", tc.msg, got, "x"+tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { AppendFrame(make([]byte, 0, 64)[:0], []byte("hello")) }); n > 1 {
		t.Errorf("AppendFrame allocates %v times with room in dst", n)
	}
}
