package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/sluice-logs/sluice/version"
)

// Exit statuses.
const (
	exitOK    = 0 // success, Ctrl-C, or stdout closed by the reader (| head)
	exitError = 1 // the router refused or could not be reached
	exitUsage = 2 // bad command line or environment
)

// run is the whole program: it parses args, runs the subcommand and turns
// its error into an exit status, printing it to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	var err error
	switch args[0] {
	case "logs":
		err = runLogs(ctx, args[1:], stdout, stderr, getenv)
	case "ship":
		err = runShip(ctx, args[1:], stdout, stderr, getenv)
	case "agent":
		err = runAgent(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		_, err = fmt.Fprintln(stdout, versionString())
	case "help", "-h", "--help", "-help":
		_, err = fmt.Fprint(stdout, usage())
	default:
		err = usageErrorf("unknown command %q", args[0])
	}
	return exitStatus(err, stderr)
}

// exitStatus reports err on stderr and returns the exit status it means.
func exitStatus(err error, stderr io.Writer) int {
	var uerr *usageError
	var code *exitCodeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return code.code
	case errors.Is(err, syscall.EPIPE):
		// The reader went away (sluice logs | head): not an error.
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "sluice: %s\nRun 'sluice help' for usage.\n", uerr.msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return exitError
	}
}

// usageError is a mistake on the command line or in the environment.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// versionString is what `sluice version` prints; the version package
// holds what the Makefile baked in.
func versionString() string {
	return version.String("sluice")
}

// envVars are the environment variables sluice reads, as the help shows
// them.
var envVars = []struct{ name, help string }{
	{"SLUICE_URL", "Base URL of the router (default " + defaultURL + ")."},
	{"SLUICE_TOKEN", "Token sent as \"Authorization: Bearer …\"; needed when the router has TOKENS."},
	{"SLUICE_CA_FILE", "PEM CA certificate(s) trusted besides the system roots, for an https:// or syslog+tls:// router."},
	{"SLUICE_CERT_FILE", "PEM client certificate (with SLUICE_KEY_FILE), for a router that requires one (HTTP_TLS_CLIENT_CA_FILE)."},
	{"SLUICE_KEY_FILE", "PEM private key of SLUICE_CERT_FILE."},
	{"NO_COLOR", "When set (non-empty), never colour the output."},
	{"SLUICE_APP", "Default --app of ship."},
	{"DYNO", "Default --proc of ship (e.g. web.1)."},
}

// usage is the text of `sluice help`. The flag list is generated from the
// flag set of `sluice logs`, so it cannot drift from the flags.
func usage() string {
	var b strings.Builder
	b.WriteString(`sluice reads an app's logs from a Sluice log router.

Usage:
  sluice logs --app APP [--num N] [--tail] [--source S] [--ps P] [--no-color]
  sluice ship [--app APP] [--proc PROC] [--drop|--block] [flags] [-- CMD [ARGS...]]
  sluice agent --glob PATTERN [--glob PATTERN...] [--state FILE] [--multiline] [flags]
  sluice version
  sluice help

Commands:
  logs      Print the app's recent log lines; with --tail, keep printing new ones.
  ship      Run CMD and ship its stdout and stderr to the router (without CMD: stdin);
            exit with CMD's status. 'sluice ship -h' lists its flags.
  agent     Follow log files (Kubernetes, Docker, plain) and ship their lines.
  version   Print the version and commit of this build.
  help      Print this help (also -h, --help).

Flags of logs:
`)
	writeFlags(&b, newLogsFlags(&logsOptions{}))
	b.WriteString("\nEnvironment:\n")
	for _, v := range envVars {
		fmt.Fprintf(&b, "  %-14s %s\n", v.name, v.help)
	}
	b.WriteString(`
Lines look like "2026-11-25T20:29:46.123456+00:00 app[web.1]: message". On a
terminal the "app[web.1]:" prefix is coloured by process type.

With --tail, sluice reconnects after a lost connection (backoff up to 5s) and
skips the lines it already printed. Ctrl-C ends it.

Exit status: 0 on success, on Ctrl-C and when the output is closed (| head);
1 when the router refuses or cannot be reached; 2 on usage errors.

Examples:
  sluice logs -a myapp
  sluice logs -a myapp -n 500 -p web
  SLUICE_URL=https://logs.example.com SLUICE_TOKEN=t.abc sluice logs -a myapp --tail
`)
	return b.String()
}

// writeFlags lists the flags of fs in logsFlagOrder, each with its short
// form: "  -a, --app APP    help (default …)".
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	short := make(map[string]string, len(shortFlags))
	for s, long := range shortFlags {
		short[long] = s
	}
	for _, name := range logsFlagOrder {
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		arg, help := flag.UnquoteUsage(f)
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			arg = ""
		}
		left := "    "
		if s, ok := short[name]; ok {
			left = "-" + s + ", "
		}
		left += "--" + name
		if arg != "" {
			left += " " + arg
		}
		switch f.DefValue {
		case "", "0", "false":
		default:
			help += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-20s %s\n", left, help)
	}
}
