package octet

import (
	"errors"
	"testing"
)

func TestNextFrame(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		frame     string
		rest      string
		err       error
		wantFrame bool
	}{
		{name: "one", in: "5 hello", frame: "hello", rest: "", wantFrame: true},
		{name: "two", in: "5 hello6 world!", frame: "hello", rest: "6 world!", wantFrame: true},
		{name: "lf after", in: "5 hello\n6 world!", frame: "hello", rest: "6 world!", wantFrame: true},
		{name: "crlf after", in: "5 hello\r\n6 world!", frame: "hello", rest: "6 world!", wantFrame: true},
		{name: "lf inside", in: "11 hello\nworld", frame: "hello\nworld", rest: "", wantFrame: true},
		{name: "short", in: "10 hello", err: ErrShortFrame},
		{name: "empty", in: "", err: ErrShortFrame},
		{name: "no space", in: "5hello", err: ErrBadOctetCount},
		{name: "leading zero", in: "05 hello", err: ErrBadOctetCount},
		{name: "not a digit", in: "<13>1 - - - - - -", err: ErrBadOctetCount},
		{name: "absurd", in: "12345678901 x", err: ErrBadOctetCount},
		{name: "digits only", in: "123", err: ErrBadOctetCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, rest, err := NextFrame([]byte(tt.in))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("NextFrame(%q) error %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || string(frame) != tt.frame || string(rest) != tt.rest {
				t.Fatalf("NextFrame(%q) = %q, %q, %v; want %q, %q", tt.in, frame, rest, err, tt.frame, tt.rest)
			}
		})
	}
}
