package cluster

import (
	"testing"
	"time"
)

func TestProof(t *testing.T) {
	secret := []byte("0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	good := Sign(secret, "GET", "/apps/a/logs?num=5", now)
	for _, tc := range []struct {
		name, method, uri, proof string
		at                       time.Time
		want                     bool
	}{
		{"valid", "GET", "/apps/a/logs?num=5", good, now, true},
		{"other uri", "GET", "/apps/b/logs?num=5", good, now, false},
		{"other method", "HEAD", "/apps/a/logs?num=5", good, now, false},
		{"stale", "GET", "/apps/a/logs?num=5", good, now.Add(time.Minute), false},
		{"from the future", "GET", "/apps/a/logs?num=5", good, now.Add(-time.Minute), false},
		{"garbage", "GET", "/apps/a/logs?num=5", "1800000000.zz", now, false},
		{"no dot", "GET", "/apps/a/logs?num=5", "1800000000", now, false},
		{"huge timestamp", "GET", "/apps/a/logs?num=5", "99999999999999999999999.00", now, false},
		{"empty", "GET", "/apps/a/logs?num=5", "", now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verify(secret, tc.method, tc.uri, tc.proof, tc.at); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
	if Verify(nil, "GET", "/apps/a/logs?num=5", good, now) {
		t.Error("an empty secret verifies")
	}
	if Verify([]byte("another secret!!"), "GET", "/apps/a/logs?num=5", good, now) {
		t.Error("another secret verifies")
	}
}
