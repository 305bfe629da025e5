package main

import (
	"bytes"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// ANSI colours of the "SOURCE[PROC]:" prefix, one per process type, picked
// by a stable hash of the type (the part of PROC before the first '.'), so
// web.1 and web.2 share a colour across runs. Red is kept for the router's
// own error notices (source "sluice", e.g. Error L11).
var palette = []string{
	"\x1b[36m", // cyan
	"\x1b[33m", // yellow
	"\x1b[32m", // green
	"\x1b[35m", // magenta
	"\x1b[34m", // blue
	"\x1b[96m", // bright cyan
	"\x1b[93m", // bright yellow
	"\x1b[92m", // bright green
	"\x1b[95m", // bright magenta
	"\x1b[94m", // bright blue
}

const (
	colorNotice = "\x1b[1;31m" // bold red
	colorReset  = "\x1b[0m"
)

// useColor decides whether to colour: only when stdout is a terminal, and
// neither --no-color, NO_COLOR nor TERM=dumb says otherwise. A character
// device counts as a terminal (no dependency on golang.org/x/term).
func useColor(stdout io.Writer, noColor bool, getenv func(string) string) bool {
	if noColor || getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := stdout.(interface{ Stat() (fs.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// appendColored appends line to dst with its "SOURCE[PROC]:" prefix
// coloured. A line that does not look like "TIMESTAMP SOURCE[PROC]: TEXT"
// is appended as it is.
func appendColored(dst, line []byte) []byte {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return append(dst, line...)
	}
	rest := line[sp+1:]
	colon := bytes.Index(rest, []byte(": "))
	if colon <= 0 || bytes.IndexByte(rest[:colon], ' ') >= 0 {
		return append(dst, line...)
	}
	prefix := rest[:colon+1] // "app[web.1]:"
	dst = append(dst, line[:sp+1]...)
	dst = append(dst, prefixColor(prefix[:colon])...)
	dst = append(dst, prefix...)
	dst = append(dst, colorReset...)
	return append(dst, rest[colon+1:]...)
}

// prefixColor returns the colour of "SOURCE[PROC]" (or "SOURCE").
func prefixColor(p []byte) string {
	source, key := p, p
	if lb := bytes.IndexByte(p, '['); lb >= 0 && p[len(p)-1] == ']' {
		source, key = p[:lb], p[lb+1:len(p)-1]
		if dot := bytes.IndexByte(key, '.'); dot >= 0 {
			key = key[:dot]
		}
		if len(key) == 0 {
			key = source
		}
	}
	if string(source) == "sluice" {
		return colorNotice
	}
	h := fnv.New32a()
	h.Write(key) //nolint:errcheck // never fails
	return palette[h.Sum32()%uint32(len(palette))]
}
