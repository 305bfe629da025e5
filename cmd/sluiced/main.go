// Command sluiced is the Sluice log router daemon. Configuration comes only
// from the environment; see `sluiced -help` and the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/daemon"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/open"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "":
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String("sluiced"))
		return 0
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "check-config", "check-drains":
	default:
		fmt.Fprintf(stderr, "sluiced: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}

	cfg, cfgErr := config.Load(environ)
	specs, drainErr := daemon.ParseDrains(cfg)
	mem := daemon.MemoryPlan(cfg, specs)
	var memErr error
	if cfgErr == nil && drainErr == nil {
		memErr = mem.Check() // the arithmetic, when it does not fit
	}
	if err := errors.Join(cfgErr, drainErr, memErr); err != nil {
		fmt.Fprintf(stderr, "sluiced: invalid configuration:\n")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
		return 1
	}
	logger := newLogger(stdout, cfg.LogLevel)

	switch cmd {
	case "check-config":
		fmt.Fprintf(stdout, "configuration ok: %d drains\n", len(specs))
		fmt.Fprintf(stdout, "memory: %s\n", mem.String())
		for _, s := range specs {
			fmt.Fprintf(stdout, "  %s  %s  %s\n", s.Name, s.Kind, s.Redacted)
		}
		return 0
	case "check-drains":
		return checkDrains(specs, stdout)
	}

	setMemoryLimit(environ, logger, daemon.GoMemLimit(cfg, mem), mem)
	d, err := daemon.New(cfg, specs, logger)
	if err != nil {
		logger.Error("startup failed", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := d.Start(); err != nil {
		logger.Error("startup failed", "err", err)
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
	case err := <-d.Err():
		logger.Error("stopping after a listener failed", "err", err)
		code = 1
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		logger.Error("shutdown incomplete", "err", err)
	}
	return code
}

// setMemoryLimit sets the Go runtime's soft memory limit to the memory
// budget, less the kernel's share, unless the operator set GOMEMLIMIT (the
// runtime has read it then; theirs stands).
func setMemoryLimit(environ []string, logger *slog.Logger, limit int64, mem budget.Plan) {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GOMEMLIMIT="); ok {
			logger.Info("memory budget", "budget", budget.Size(mem.Total), "reserved", budget.Size(mem.Reserved()),
				"gomemlimit", v, "gomemlimit_from", "GOMEMLIMIT")
			return
		}
	}
	debug.SetMemoryLimit(limit)
	logger.Info("memory budget", "budget", budget.Size(mem.Total), "reserved", budget.Size(mem.Reserved()),
		"gomemlimit", budget.Size(limit), "gomemlimit_from", "MEMORY_LIMIT")
}

// newLogger writes sluiced's own logs as JSON events to w (stdout,
// unbuffered: factor XI).
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `sluiced — the Sluice log router daemon.

Usage:
  sluiced                 run the router (stop with SIGTERM or Ctrl-C)
  sluiced check-config    validate the environment and list the drains, then exit
  sluiced check-drains    connect to every configured drain and report reachability (exit 0 if all reachable)
  sluiced -version        print version and commit
  sluiced -help           this text

Configuration is read from the environment only:

`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range config.Vars {
		def := v.Default
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Help)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nDrain URLs (%s) take these query parameters:\n\n", strings.Join(open.Schemes(), ", "))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  PARAMETER\tDEFAULT\tMEANING")
	for _, o := range drains.OptionDocs() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Name, o.Default, o.Help)
	}
	tw.Flush()
}

func checkDrains(specs []daemon.DrainSpec, w io.Writer) int {
	if len(specs) == 0 {
		fmt.Fprintln(w, "no drains configured (set DRAIN_<NAME>=<url>)")
		return 0
	}
	ok := true
	for _, r := range daemon.CheckDrains(context.Background(), specs, 10*time.Second) {
		if r.Err != nil {
			ok = false
			fmt.Fprintf(w, "FAIL  %-16s %s: %v\n", r.Name, r.URL, r.Err)
		} else {
			fmt.Fprintf(w, "ok    %-16s %s (%s)\n", r.Name, r.URL, r.Took.Round(time.Millisecond))
		}
	}
	if !ok {
		return 1
	}
	return 0
}
