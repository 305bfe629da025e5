package main

import (
	"context"
	"io"
)

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return usageErrorf("agent: not built yet")
}
