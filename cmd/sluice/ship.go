package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ship"
)

// Severities of shipped lines: a child's stdout is informational, its
// stderr is err (RFC 5424 numbers).
const (
	severityInfo = 6
	severityErr  = 3
)

// childGrace is how long, after the child exits, its pipes are still read:
// a grandchild that inherited them may keep them open forever.
const childGrace = time.Second

// shipCommand are the flags of `sluice ship`.
type shipCommand struct {
	shipOptions
	app, proc, source string
}

func newShipFlags(o *shipCommand) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice ship", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.app, "app", "", "Ship as app `APP` (default $SLUICE_APP; with $SLUICE_TOKEN, the token's app)")
	fs.StringVar(&o.proc, "proc", "", "Process name `PROC` (default $DYNO, else the command's base name + \".1\")")
	fs.StringVar(&o.source, "source", "app", "Source `NAME` of the lines")
	addShipFlags(fs, &o.shipOptions, false)
	return fs
}

// exitCodeError ends sluice with a given status and no message: the exit
// status of the child of `sluice ship`.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// runShip is `sluice ship [flags] [-- CMD ARGS…]`.
func runShip(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o shipCommand
	fs := newShipFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return printCommandHelp(stdout, "sluice ship [flags] [-- CMD [ARGS...]]", fs)
		}
		return usageErrorf("ship: %v", err)
	}
	argv := fs.Args()
	if err := o.validate("ship"); err != nil {
		return err
	}
	if o.app == "" {
		o.app = getenv("SLUICE_APP")
	}
	if o.app == "" && getenv("SLUICE_TOKEN") == "" && o.syslog == "" {
		return usageErrorf("ship: --app (or $SLUICE_APP) is required without $SLUICE_TOKEN")
	}
	if o.proc == "" {
		o.proc = getenv("DYNO")
	}
	if o.proc == "" {
		o.proc = "ship.1"
		if len(argv) > 0 {
			o.proc = filepath.Base(argv[0]) + ".1"
		}
	}
	errs := newErrLog(stderr, "ship")
	s, err := o.newShipper(fs, getenv, errs, nil)
	if err != nil {
		return err
	}
	host := hostname()
	// addCtx ends when the flush deadline passes after the input ended, so
	// a blocked Add (--block, router down) cannot hold sluice forever.
	addCtx, stopAdding := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdding()
	emit := func(text string, stderr bool) error {
		m := sluice.Message{Time: time.Now(), App: o.app, Source: o.source, Proc: o.proc, Host: host,
			Text: text, Facility: sluice.DefaultFacility, Severity: severityInfo}
		if stderr {
			m.Severity = severityErr
		}
		_, err := s.Add(addCtx, &m)
		return err
	}

	code := 0
	if len(argv) == 0 {
		stop := make(chan struct{})
		go func() {
			<-ctx.Done()
			close(stop)
		}()
		if err := ship.ReadLines(os.Stdin, int(o.maxLine), o.batchWait, stop, emit, false); err != nil && !errors.Is(err, context.Canceled) {
			errs.Printf("read", "read stdin: %v", err)
		}
	} else {
		code, err = runChild(argv, &o, emit, errs, func() {
			time.AfterFunc(o.flushWait, stopAdding)
		})
		if err != nil {
			s.Close(context.Background())
			return err
		}
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.flushWait)
	defer cancel()
	if err := s.Close(flushCtx); err != nil {
		errs.Printf("flush", "%v", err)
	}
	st := s.Stats()
	if st.Lost > 0 || st.Dropped > 0 {
		errs.Printf("summary", "%d lines delivered, %d dropped, %d lost", st.Delivered, st.Dropped, st.Lost)
	}
	if code != 0 {
		return &exitCodeError{code: code}
	}
	return nil
}

// runChild starts argv with its stdout and stderr on pipes read by emit,
// forwards SIGTERM, SIGINT and SIGHUP to it, and returns its exit status
// (128+signal when a signal ended it) once it exited and its pipes are
// read. exited is called as soon as the child has exited.
func runChild(argv []string, o *shipCommand, emit func(string, bool) error, errs *ship.ErrLog, exited func()) (int, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("create pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("create pipe: %w", err)
	}
	// The child lives as long as it likes: ship forwards signals to it and
	// waits, so no context may kill it.
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:noctx // see above
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, outW, errW
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		fmt.Fprintf(errs.Writer(), "sluice ship: start %s: %v\n", argv[0], err)
		return code, nil
	}
	outW.Close()
	errW.Close()

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for _, p := range []struct {
		r      *os.File
		stderr bool
	}{{outR, false}, {errR, true}} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer p.r.Close()
			if err := ship.ReadLines(p.r, int(o.maxLine), o.batchWait, stop, emit, p.stderr); err != nil && !errors.Is(err, context.Canceled) {
				errs.Printf("read", "read the child's output: %v", err)
			}
		}()
	}
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig) // the child may have exited already
			case <-stop:
				return
			}
		}
	}()
	werr := cmd.Wait()
	exited()
	grace := time.AfterFunc(childGrace, func() { close(stop) })
	readers.Wait()
	if grace.Stop() {
		close(stop)
	}
	<-waited
	return exitCode(cmd.ProcessState, werr), nil
}

// exitCode is the child's exit status the way a shell reports it.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
