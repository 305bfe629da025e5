package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"time"

	"github.com/sluice-logs/sluice/agent"
)

// agentCommand are the flags of `sluice agent`.
type agentCommand struct {
	shipOptions
	globs     globList
	state     string
	from      string
	poll      time.Duration
	multiline bool
	app, proc string
	source    string
}

// globList is a repeatable --glob.
type globList []string

func (g *globList) String() string     { return strings.Join(*g, ",") }
func (g *globList) Set(v string) error { *g = append(*g, v); return nil }

func newAgentFlags(o *agentCommand) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&o.globs, "glob", "Follow the files matching `PATTERN` (repeatable), e.g. '/var/log/containers/*.log'")
	fs.StringVar(&o.state, "state", "", "Keep the acknowledged positions in `FILE` (written atomically); restarts resume there")
	fs.StringVar(&o.from, "from", "beginning", "Where to start files found at the very first start: `beginning` or end")
	fs.DurationVar(&o.poll, "poll", agent.DefaultPoll, "Look for new lines, files and rotations every `D` (at most 1s)")
	fs.BoolVar(&o.multiline, "multiline", false, "Join continuation lines (leading whitespace, \"Caused by:\", Python tracebacks) into one message")
	fs.StringVar(&o.app, "app", "", "App name `TEMPLATE`: {pod} {namespace} {container} {name} {id} {dir} (default {pod} for Kubernetes logs, {id} for Docker, {name} for other files)")
	fs.StringVar(&o.proc, "proc", "", "Proc name `TEMPLATE`, same fields (default {container}, {id}, {name})")
	fs.StringVar(&o.source, "source", "app", "Source `NAME` of the lines")
	addShipFlags(fs, &o.shipOptions, true)
	return fs
}

// runAgent is `sluice agent --glob PATTERN…`: it follows files until
// SIGTERM or SIGINT, then flushes, saves its positions and exits 0.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o agentCommand
	fs := newAgentFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return printCommandHelp(stdout, "sluice agent --glob PATTERN [flags]", fs)
		}
		return usageErrorf("agent: %v", err)
	}
	switch {
	case fs.NArg() > 0:
		return usageErrorf("agent: unexpected argument %q", fs.Arg(0))
	case len(o.globs) == 0:
		return usageErrorf("agent: --glob is required")
	case o.from != "beginning" && o.from != "end":
		return usageErrorf("agent: --from %q: want beginning or end", o.from)
	case o.poll <= 0 || o.poll > time.Second:
		return usageErrorf("agent: --poll %s: want more than 0 and at most 1s", o.poll)
	}
	if err := o.validate("agent"); err != nil {
		return err
	}
	errs := newErrLog(stderr, "agent")
	// The state file is written on the shipper's goroutine as each batch is
	// acknowledged, before the next one is sent (agent.OnAck).
	var a *agent.Agent
	ready := make(chan struct{})
	s, err := o.newShipper(fs, getenv, errs, func(seq uint64) {
		<-ready // no batch is acknowledged before the agent exists: it adds the lines
		if a != nil {
			a.OnAck(seq)
		}
	})
	if err != nil {
		return err
	}
	a, err = agent.New(agent.Config{
		Globs: o.globs, State: o.state, FromEnd: o.from == "end", Poll: o.poll, Multiline: o.multiline,
		App: o.app, Proc: o.proc, Source: o.source, Host: hostname(), MaxLine: int(o.maxLine), Errors: errs,
	}, s)
	close(ready)
	if err != nil {
		s.Close(context.Background())
		return usageErrorf("agent: %v", err)
	}
	defer a.Close()
	runErr := a.Run(ctx)
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.flushWait)
	defer cancel()
	if err := s.Close(flushCtx); err != nil {
		errs.Printf("flush", "%v", err)
	}
	a.Save()
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return nil
}
