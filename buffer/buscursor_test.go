package buffer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice"
)

// busMsg is line i of app a at offset off of partition 3.
func busMsg(i int, off int64) sluice.Message {
	m := msg("a", "web.1", fmt.Sprint(i))
	m.Pos = sluice.MakeBusPos(3, off)
	return m
}

// texts returns the texts of tail lines or, with events, "ID=TEXT".
func texts(b []byte) string {
	var got []string
	id := ""
	for _, l := range lines(b) {
		l = strings.TrimSuffix(l, "\n")
		switch {
		case strings.HasPrefix(l, "id: "):
			id = strings.TrimPrefix(l, "id: ")
		case l == "":
		default:
			_, text, _ := strings.Cut(l, "]: ")
			if strings.HasPrefix(text, "Error L11") {
				text = "L11"
			}
			if id != "" {
				text = id + "=" + text
			}
			got = append(got, text)
		}
	}
	return strings.Join(got, " ")
}

// TestBusCursors resumes on one store (a new owner of the partition) after
// a cursor another store (the old owner) gave: the lines after it, by
// their bus positions, whatever the two rings' epochs and line numbers.
func TestBusCursors(t *testing.T) {
	old := New(Config{}, nil)
	// Lines 0..9 at offsets 10, 13, 16, … (other apps' records between).
	for i := range 10 {
		old.Append([]sluice.Message{busMsg(i, int64(10+3*i))})
	}
	b, end := old.Read(nil, "a", Options{Last: 3, Events: true})
	if got, want := texts(b), "b3.31=7 b3.34=8 b3.37=9"; got != want {
		t.Fatalf("old owner events %q, want %q", got, want)
	}
	if end.String() != "b3.37" {
		t.Fatalf("old owner cursor %v", end)
	}

	// The new owner rebuilt the partition from offset 16 (line 2) on,
	// and holds a local line without a position before it.
	moved := New(Config{}, nil)
	moved.Append([]sluice.Message{msg("a", "web.1", "local")})
	for i := 2; i < 8; i++ {
		moved.Append([]sluice.Message{busMsg(i, int64(10+3*i))})
	}
	cases := []struct {
		name, after string
		want        string // the lines of a Read, and of a tail once lines 8 and 9 arrived
		end         string
	}{
		{"held", "b3.22", "5 6 7", "b3.31"},
		{"between two lines", "b3.23", "5 6 7", "b3.31"},
		{"newest", "b3.31", "", "b3.31"},
		{"ahead of this member", "b3.34", "", "b3.31"},
		{"before the oldest held", "b3.13", "local 2 3 4 5 6 7", "b3.31"},
		{"another partition", "b4.99", "local 2 3 4 5 6 7", "b3.31"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCursor(tc.after)
			if err != nil {
				t.Fatal(err)
			}
			b, end := moved.Read(nil, "a", Options{After: c})
			if got := texts(b); got != tc.want {
				t.Fatalf("Read %q, want %q", got, tc.want)
			}
			if end.String() != tc.end {
				t.Fatalf("Read cursor %v, want %v", end, tc.end)
			}
		})
	}

	// Tails: one resumes ahead of this member (it has not consumed
	// offset 34 yet): line 8 must not repeat when it arrives.
	ahead := subscribe(t, moved, "a", Options{After: Cursor{Bus: sluice.MakeBusPos(3, 34)}, Events: true})
	defer ahead.Close()
	held := subscribe(t, moved, "a", Options{After: Cursor{Bus: sluice.MakeBusPos(3, 28)}, Events: true})
	defer held.Close()
	if c := held.Position(); c.String() != "b3.28" {
		t.Fatalf("position %v, want b3.28", c)
	}
	moved.Append([]sluice.Message{busMsg(8, 34), busMsg(9, 37)})
	if got, want := texts([]byte(strings.Join(next(t, held, nil), ""))), "b3.31=7 b3.34=8 b3.37=9"; got != want {
		t.Fatalf("tail after b3.28: %q, want %q", got, want)
	}
	if got, want := texts([]byte(strings.Join(next(t, ahead, nil), ""))), "b3.37=9"; got != want {
		t.Fatalf("tail after b3.34: %q, want %q", got, want)
	}
	if c := ahead.Position(); c.String() != "b3.37" {
		t.Fatalf("position %v, want b3.37", c)
	}
}

func TestParseBusCursor(t *testing.T) {
	for _, good := range []string{"b0.0", "b3.17", "b65535.281474976710654"} {
		c, err := ParseCursor(good)
		if err != nil || c.String() != good {
			t.Errorf("ParseCursor(%q) = %v, %v", good, c, err)
		}
	}
	for _, bad := range []string{"b", "b3", "b.1", "b3.", "b-1.2", "b65536.1", "b1.-1", "b1.281474976710655", "b1.2.3", "b1:2", "B1.2", "b1.2\n", "b 1.2"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}
