// Package golden runs golden-file tests over the cases of one wire format:
// testdata/<format>/<case>/input and testdata/<format>/<case>/expected at
// the root of the repository (the layout of Telegraf's syslog test cases).
// A codec's test reads each case's input, produces its own text form of the
// result, and golden compares it with expected; `go test -update` rewrites
// expected from the result instead (review the diff before committing).
//
// It has no state beyond the -update flag; tests may run cases in
// parallel.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files' expected output")

// Case is one golden case.
type Case struct {
	Name     string // the directory's name
	Dir      string
	Input    []byte
	Expected []byte
}

// Root returns the repository root: the nearest directory above the
// working directory (a test's package directory) that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("golden: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("golden: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Cases reads every case of format, sorted by name. It fails t when there
// is none or one misses its input.
func Cases(t testing.TB, format string) []Case {
	t.Helper()
	base := filepath.Join(Root(t), "testdata", format)
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatalf("golden: read cases of %s: %v", format, err)
	}
	var cases []Case
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		in, err := os.ReadFile(filepath.Join(dir, "input"))
		if err != nil {
			t.Fatalf("golden: case %s/%s: %v", format, e.Name(), err)
		}
		exp, err := os.ReadFile(filepath.Join(dir, "expected"))
		if err != nil && !(*update && os.IsNotExist(err)) {
			t.Fatalf("golden: case %s/%s: %v", format, e.Name(), err)
		}
		cases = append(cases, Case{Name: e.Name(), Dir: dir, Input: in, Expected: exp})
	}
	if len(cases) == 0 {
		t.Fatalf("golden: no cases in %s", base)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases
}

// Run runs decode over the input of every case of format, each in a
// subtest named after the case, and compares its output with expected
// line by line (or, with -update, writes it).
func Run(t *testing.T, format string, decode func(t *testing.T, input []byte) []byte) {
	t.Helper()
	for _, c := range Cases(t, format) {
		t.Run(c.Name, func(t *testing.T) {
			got := decode(t, c.Input)
			if *update {
				if err := os.WriteFile(filepath.Join(c.Dir, "expected"), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			Compare(t, got, c.Expected)
		})
	}
}

// Compare fails t at the first line where got and want differ.
func Compare(t testing.TB, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			t.Fatalf("line %d:\n got %s\nwant %s", i+1, gl, wl)
		}
	}
}

// Lines splits input into its non-empty lines (LF or CRLF ended).
func Lines(input []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(input, []byte("\n")) {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}
