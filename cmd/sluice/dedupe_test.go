package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDeduper(t *testing.T) {
	x := logLine(1)
	n := l11Line()
	tests := []struct {
		name     string
		printed  []string
		backlog  []string
		want     int      // lines asked for
		settleAt int      // offers until offer reports true; 0 when it never does
		wantOut  []string // printed after the resync
		wantGap  bool
	}{
		{"overlap at the end", lines(1, 5), lines(1, 7), resyncLines, 5, lines(6, 7), false},
		{"long history settles after strongMatch lines", lines(1, 50), lines(1, 52), resyncLines, 50, lines(51, 52), false},
		{"backlog starts inside the history", lines(1, 5), lines(4, 7), resyncLines, 0, lines(6, 7), false},
		{"no overlap: router restarted", lines(1, 5), lines(10, 11), resyncLines, 0, lines(10, 11), false},
		{"no overlap in a full backlog: gap", lines(1, 5), lines(10, 13), 4, 4, lines(10, 13), true},
		{"overlap in a full backlog", lines(1, 5), lines(2, 5), 4, 4, nil, false},
		{"notices are skipped", []string{logLine(1), n, logLine(2)}, []string{logLine(1), logLine(2), n, logLine(3)}, resyncLines, 2, []string{n, logLine(3)}, false},
		{"disagreeing line before the match", lines(1, 5), []string{logLine(9), logLine(4) + "x", logLine(5), logLine(6)}, resyncLines, 0, lines(6, 6), false},
		{"identical lines: most agreement wins", []string{x, x}, []string{x, x, x}, resyncLines, 2, []string{x}, false},
		{"empty backlog", lines(1, 5), nil, resyncLines, 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d deduper
			for _, l := range tt.printed {
				d.record([]byte(l))
			}
			d.start(tt.want)
			if !d.active {
				t.Fatal("start did not begin a resync")
			}
			var out []string
			settled := 0
			for i, l := range tt.backlog {
				if settled > 0 {
					out = append(out, l) // printed directly
					continue
				}
				if d.offer([]byte(l)) {
					settled = i + 1
					for _, o := range d.finish() {
						out = append(out, string(o))
					}
				}
			}
			if settled != tt.settleAt {
				t.Fatalf("settled after %d lines, want %d", settled, tt.settleAt)
			}
			if settled == 0 {
				for _, o := range d.finish() {
					out = append(out, string(o))
				}
			}
			if strings.Join(out, "") != strings.Join(tt.wantOut, "") {
				t.Fatalf("printed %q, want %q", out, tt.wantOut)
			}
			if d.gap != tt.wantGap {
				t.Fatalf("gap = %v, want %v", d.gap, tt.wantGap)
			}
		})
	}
}

func TestDeduperWithoutHistory(t *testing.T) {
	var d deduper
	d.start(resyncLines)
	if d.active || !d.empty() {
		t.Fatalf("a deduper with nothing printed resyncs (active %v)", d.active)
	}
	for i := range 2 * historyLines {
		d.record([]byte(fmt.Sprintf("line %d\n", i)))
	}
	d.record([]byte(l11Line()))
	if d.histAt(0) != lineHash([]byte(fmt.Sprintf("line %d\n", 2*historyLines-1))) {
		t.Fatal("the notice was remembered, or the history lost the last line")
	}
}

func TestBackoff(t *testing.T) {
	var b backoff
	steps := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for round := range 2 {
		for i, step := range steps {
			t.Run(fmt.Sprintf("round %d wait %d", round, i), func(t *testing.T) {
				if w := b.next(); w < step/2 || w > step {
					t.Fatalf("wait %v, want between %v and %v", w, step/2, step)
				}
			})
		}
		b.reset()
	}
}
