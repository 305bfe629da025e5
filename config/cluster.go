package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/sluice-logs/sluice/bus"
)

// Cluster is the cluster mode configuration (issue 12). Bus is nil when
// BUS_URL is unset: one process, no Kafka.
type Cluster struct {
	Bus       *bus.Config   // BUS_URL, parsed
	Role      string        // ROLE: all, ingest or router
	Advertise string        // ADVERTISE_URL (defaulted)
	Group     string        // BUS_GROUP
	Secret    string        // CLUSTER_SECRET
	Replay    time.Duration // BUS_REPLAY
}

// Roles.
const (
	RoleAll    = "all"
	RoleIngest = "ingest"
	RoleRouter = "router"
)

func loadCluster(get func(string) string, port int, errs []error) (Cluster, []error) {
	bad := func(name, val, why string) {
		errs = append(errs, fmt.Errorf("%s %q: %s", name, val, why))
	}
	var c Cluster
	if v := get("BUS_URL"); v != "" {
		b, err := bus.ParseURL(v)
		if err != nil {
			errs = append(errs, err)
		} else {
			c.Bus = &b
		}
	}
	c.Role = get("ROLE")
	switch c.Role {
	case RoleAll:
	case RoleIngest, RoleRouter:
		if get("BUS_URL") == "" {
			bad("ROLE", c.Role, "needs BUS_URL (cluster mode)")
		}
	default:
		bad("ROLE", c.Role, "want all, ingest or router")
	}
	c.Advertise = get("ADVERTISE_URL")
	if c.Advertise == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		c.Advertise = "http://" + host + ":" + strconv.Itoa(port)
	} else if u, err := url.Parse(c.Advertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
		bad("ADVERTISE_URL", c.Advertise, "want http(s)://host:port")
	}
	c.Group = get("BUS_GROUP")
	if c.Group == "" || len(c.Group) > 249 {
		bad("BUS_GROUP", c.Group, "want 1-249 characters")
	}
	c.Secret = get("CLUSTER_SECRET")
	if c.Secret != "" && len(c.Secret) < 16 {
		bad("CLUSTER_SECRET", "…", "want at least 16 characters")
	}
	v := get("BUS_REPLAY")
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		bad("BUS_REPLAY", v, "want a duration such as 15m (0 turns the rebuild off)")
	}
	c.Replay = d
	return c, errs
}
