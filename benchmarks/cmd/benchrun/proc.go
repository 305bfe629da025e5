package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
var clockTicks = 100.0

func init() {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			clockTicks = v
		}
	}
}

// proc is a child process under test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
	log  string        // path of out
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// logSeq numbers the log files of one benchmark run.
var logSeq int

// start runs path with args and env (added to a minimal environment),
// logging its stdout and stderr to logDir/NNN-name.log.
func start(logDir, name string, env []string, path string, args ...string) (*proc, error) {
	return startIn("", logDir, name, env, path, args...)
}

// startIn is start with a working directory ("" for the current one).
func startIn(dir, logDir, name string, env []string, path string, args ...string) (*proc, error) {
	return startProc(dir, nil, logDir, name, env, path, args...)
}

// startProc is startIn with stdin read from stdin (nil for none).
func startProc(dir string, stdin io.Reader, logDir, name string, env []string, path string, args ...string) (*proc, error) {
	logSeq++
	f, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%03d-%s.log", logSeq, name)))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: f, log: f.Name(), done: make(chan struct{})}
	go func() { // owned by p: stop waits for it
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.out.Close()
}

// exitErr is Wait's error, or a plain one for a clean exit.
func (p *proc) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cpu returns the process's utime+stime in seconds, from /proc while it
// runs, from its rusage once it has exited.
func (p *proc) cpu() (float64, error) {
	if p.exited() {
		u := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return tv(u.Utime) + tv(u.Stime), nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of %s: %w", p.name, err)
	}
	// Fields after the parenthesised command name: state is field 3,
	// utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat of %s", p.name)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat of %s", p.name)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse stat of %s: %w", p.name, err)
	}
	return (ut + st) / clockTicks, nil
}

// peakRSS returns VmHWM in MiB (or the rusage maximum once exited).
func (p *proc) peakRSS() (float64, error) {
	if p.exited() {
		return float64(p.cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024, nil
	}
	kib, err := readVMHWM(p.cmd.Process.Pid)
	if err != nil {
		return 0, fmt.Errorf("peak RSS of %s: %w", p.name, err)
	}
	return float64(kib) / 1024, nil
}

// readVMHWM reads the VmHWM of pid, in KiB, from /proc/pid/status.
func readVMHWM(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM: %w", err)
			}
			return kib, nil
		}
	}
	return 0, errors.New("no VmHWM")
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls cond every 10 ms until it returns true, an error, or the
// deadline passes; it fails early when p (if not nil) exits.
func waitFor(ctx context.Context, what string, timeout time.Duration, p *proc, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if p != nil && p.exited() {
			return fmt.Errorf("%s: %s exited (%w); see %s", what, p.name, p.exitErr(), p.log)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s: timed out after %s", what, timeout), last)
		case <-t.C:
		}
	}
}

// listening reports whether something accepts TCP connections at addr.
func listening(addr string) func() (bool, error) {
	return func() (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	}
}
