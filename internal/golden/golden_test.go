package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootAndLines(t *testing.T) {
	root := Root(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("Root = %s: %v", root, err)
	}
	got := Lines([]byte("a\r\n\nb\nc"))
	if len(got) != 3 || string(got[0]) != "a" || string(got[1]) != "b" || string(got[2]) != "c" {
		t.Fatalf("Lines = %q", got)
	}
}

func TestCasesSyslog(t *testing.T) {
	if cs := Cases(t, "syslog"); len(cs) < 10 {
		t.Fatalf("%d syslog cases, want the dialect corpus", len(cs))
	}
}
