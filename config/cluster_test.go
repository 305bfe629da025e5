package config

import (
	"strings"
	"testing"
	"time"
)

func TestClusterConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		err  string
		ok   func(Cluster) bool
	}{
		{"single process", nil, "", func(c Cluster) bool {
			return c.Bus == nil && c.Role == RoleAll && c.Group == "sluice" && c.Replay == 15*time.Minute &&
				strings.HasPrefix(c.Advertise, "http://") && strings.HasSuffix(c.Advertise, ":8080")
		}},
		{"cluster", []string{"BUS_URL=kafka://k1:9092,k2:9092/logs?partitions=8", "ROLE=router", "ADVERTISE_URL=http://10.0.0.7:8080",
			"CLUSTER_SECRET=0123456789abcdef"}, "", func(c Cluster) bool {
			return c.Bus != nil && c.Bus.Partitions == 8 && c.Role == RoleRouter && c.Advertise == "http://10.0.0.7:8080"
		}},
		{"role without bus", []string{"ROLE=ingest"}, `ROLE "ingest": needs BUS_URL`, nil},
		{"every problem", []string{"BUS_URL=kafka://k1/", "ROLE=boss", "ADVERTISE_URL=10.0.0.7", "BUS_GROUP=",
			"CLUSTER_SECRET=short", "BUS_REPLAY=soon"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.env)
			if tc.ok == nil {
				if err == nil {
					t.Fatal("no error")
				}
				want := []string{tc.err}
				if tc.err == "" {
					want = []string{"BUS_URL", "ROLE", "ADVERTISE_URL", "BUS_GROUP", "CLUSTER_SECRET", "BUS_REPLAY"}
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "short") {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok(c.Cluster) {
				t.Errorf("got %+v", c.Cluster)
			}
		})
	}
}
