package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParseLogs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    logsOptions
		wantErr string // substring of the usage error; "" for none
	}{
		{"long flags", []string{"--app", "web", "--num", "5", "--tail", "--source", "router", "--ps", "web.1", "--no-color"},
			logsOptions{app: "web", num: 5, tail: true, source: "router", ps: "web.1", noColor: true}, ""},
		{"short flags", []string{"-a", "web", "-n", "5", "-t", "-s", "app", "-p", "worker"},
			logsOptions{app: "web", num: 5, tail: true, source: "app", ps: "worker"}, ""},
		{"equals forms", []string{"--app=web", "-n=0", "--tail=true"}, logsOptions{app: "web", num: 0, tail: true}, ""},
		{"default num", []string{"-a", "web"}, logsOptions{app: "web", num: 100}, ""},
		{"missing app", []string{"-n", "5"}, logsOptions{}, "--app is required"},
		{"negative num", []string{"-a", "web", "-n", "-1"}, logsOptions{}, "must not be negative"},
		{"bad num", []string{"-a", "web", "-n", "x"}, logsOptions{}, "invalid value"},
		{"unknown flag", []string{"-a", "web", "--follow"}, logsOptions{}, "flag provided but not defined: -follow"},
		{"positional app", []string{"web"}, logsOptions{}, `unexpected argument "web"`},
		{"invalid app name", []string{"-a", "we/b"}, logsOptions{}, "not a valid app name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLogs(tt.args)
			if tt.wantErr != "" {
				var uerr *usageError
				if !errors.As(err, &uerr) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseLogs(%q) error = %v, want a usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseLogs(%q): %v", tt.args, err)
			}
			if got != tt.want {
				t.Fatalf("parseLogs(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		vars       map[string]string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"no arguments", nil, nil, exitUsage, "", "Usage:"},
		{"unknown command", []string{"tail"}, nil, exitUsage, "", `unknown command "tail"`},
		{"help", []string{"help"}, nil, exitOK, "sluice logs --app APP", ""},
		{"-h", []string{"-h"}, nil, exitOK, "Environment:", ""},
		{"--help", []string{"--help"}, nil, exitOK, "SLUICE_TOKEN", ""},
		{"logs -h", []string{"logs", "-h"}, nil, exitOK, "--no-color", ""},
		{"version", []string{"version"}, nil, exitOK, "sluice dev (commit ", ""},
		{"logs without app", []string{"logs"}, nil, exitUsage, "", "--app is required"},
		{"bad SLUICE_URL", []string{"logs", "-a", "web"}, map[string]string{"SLUICE_URL": "localhost:8080"}, exitUsage, "", "SLUICE_URL"},
		{"SLUICE_URL password redacted", []string{"logs", "-a", "web"}, map[string]string{"SLUICE_URL": "ftp://u:secret@host"}, exitUsage, "", "xxxxx"},
		{"router unreachable", []string{"logs", "-a", "web"}, map[string]string{"SLUICE_URL": "http://127.0.0.1:1"}, exitError, "", "connect to http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr, env(tt.vars))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Fatalf("stdout %q does not contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
			if strings.Contains(stderr.String(), "secret") {
				t.Fatalf("stderr shows a password: %s", stderr.String())
			}
		})
	}
}

// TestHelpListsEveryFlag keeps the help text in step with the flags.
func TestHelpListsEveryFlag(t *testing.T) {
	text := usage()
	listed := make(map[string]bool)
	for _, n := range logsFlagOrder {
		listed[n] = true
	}
	newLogsFlags(&logsOptions{}).VisitAll(func(f *flag.Flag) {
		if long, ok := shortFlags[f.Name]; ok {
			if !strings.Contains(text, "-"+f.Name+", --"+long) {
				t.Errorf("help does not show -%s as the short form of --%s", f.Name, long)
			}
			return
		}
		if !listed[f.Name] {
			t.Errorf("flag --%s is missing from logsFlagOrder", f.Name)
		}
		if !strings.Contains(text, "--"+f.Name) {
			t.Errorf("help does not list --%s", f.Name)
		}
	})
	for _, v := range envVars {
		if !strings.Contains(text, v.name) {
			t.Errorf("help does not list %s", v.name)
		}
	}
}
