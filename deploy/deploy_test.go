package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need skips when a tool is missing, except on CI where it fails.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (scripts/debian-deps.sh installs it)", what)
	}
	t.Skipf("%s is missing; run scripts/debian-deps.sh", what)
}

func TestYAMLParses(t *testing.T) {
	py, err := exec.LookPath("python3")
	need(t, err == nil, "python3")
	need(t, exec.Command(py, "-c", "import yaml").Run() == nil, "python3-yaml")
	files, _ := filepath.Glob("*.y*ml")
	if len(files) < 4 {
		t.Fatalf("found %v, want the compose file and three Kubernetes manifests", files)
	}
	// Each document must parse and be a mapping with the keys its kind
	// needs.
	const check = `
import sys, yaml
for path in sys.argv[1:]:
    docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    assert docs, path + ": empty"
    for d in docs:
        assert isinstance(d, dict), path + ": not a mapping"
        if "services" in d:
            for name, s in d["services"].items():
                assert "image" in s or "build" in s, path + ": service " + name + " has no image"
        else:
            for k in ("apiVersion", "kind", "metadata", "spec"):
                assert k in d, path + ": " + d.get("kind", "?") + " lacks " + k
`
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if out, err := exec.Command(py, "-c", check, f).CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestSystemdUnitsVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	need(t, err == nil, "systemd-analyze")
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) != 2 {
		t.Fatalf("units %v, want 2", units)
	}
	// verify wants the ExecStart binaries to exist: point them at files in
	// a temporary root.
	dir := t.TempDir()
	for _, u := range units {
		b, _ := os.ReadFile(u)
		text := strings.ReplaceAll(string(b), "/usr/local/bin/", dir+"/bin/")
		os.WriteFile(filepath.Join(dir, filepath.Base(u)), []byte(text), 0o644)
	}
	os.MkdirAll(dir+"/bin", 0o755)
	for _, name := range []string{"sluiced", "sluice"} {
		os.WriteFile(filepath.Join(dir, "bin", name), []byte("#!/bin/sh\n"), 0o755)
	}
	for _, u := range units {
		t.Run(u, func(t *testing.T) {
			out, err := exec.Command(sa, "verify", filepath.Join(dir, filepath.Base(u))).CombinedOutput()
			// verify also reports problems of unrelated system units on some
			// machines; only lines naming ours count.
			var ours []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, filepath.Base(u)) {
					ours = append(ours, l)
				}
			}
			if len(ours) > 0 || (err != nil && len(strings.TrimSpace(string(out))) == 0) {
				t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
			}
		})
	}
}

func TestProcfile(t *testing.T) {
	b, err := os.ReadFile("Procfile")
	if err != nil || strings.TrimSpace(string(b)) != "web: sluiced" {
		t.Fatalf("Procfile %q, %v", b, err)
	}
}
