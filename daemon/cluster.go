package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/bus"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/drains"
)

// The cluster mode roles (ROLE), besides RoleAll.
const (
	// RoleIngest runs the sources, publishing to the bus; no rings, no
	// drains, no consumer.
	RoleIngest Role = config.RoleIngest
	// RoleRouter consumes the bus into rings and drains; no sources.
	RoleRouter Role = config.RoleRouter
)

// clusterParts are what a cluster mode process adds: the producer that
// ingest publishes to, the group member that feeds the router.
type clusterParts struct {
	cfg      bus.Config
	producer *bus.Producer // nil with RoleRouter
	consumer *bus.Consumer // nil with RoleIngest, and before Start
	metrics  *bus.Metrics
	cancel   context.CancelFunc
	done     chan error
}

// clusterPlan adjusts plan for cfg's ROLE: an ingest process builds no
// drains, a router process no sources.
func clusterPlan(cfg config.Config, plan Plan) Plan {
	if cfg.Cluster.Bus == nil {
		return plan
	}
	plan.Role = Role(cfg.Cluster.Role)
	switch plan.Role {
	case RoleIngest:
		plan.Drains = nil
	case RoleRouter:
		plan.Sources = nil
	}
	return plan
}

func checkRole(cfg config.Config, r Role) error {
	switch r {
	case RoleAll:
		return nil
	case RoleIngest, RoleRouter:
		if cfg.Cluster.Bus == nil {
			return fmt.Errorf("role %q needs BUS_URL", r)
		}
		return nil
	}
	return fmt.Errorf("role %q: want all, ingest or router", r)
}

// busConnectTimeout bounds connecting the producer at startup.
const busConnectTimeout = 30 * time.Second

// buildBus connects the producer in cluster mode and returns what the
// sources publish to: the producer, or the router without BUS_URL.
func (d *Daemon) buildBus(cfg config.Config, plan Plan) (sluice.Publisher, error) {
	if cfg.Cluster.Bus == nil {
		return d.router, nil
	}
	d.bus = &clusterParts{cfg: *cfg.Cluster.Bus, metrics: bus.NewMetrics(d.reg)}
	if plan.Role == RoleRouter {
		return d.router, nil // no sources publish
	}
	ctx, cancel := context.WithTimeout(context.Background(), busConnectTimeout)
	defer cancel()
	p, err := bus.NewProducer(ctx, d.bus.cfg, bus.ProducerOptions{
		Logger:  d.log.With("component", "bus"),
		Metrics: d.bus.metrics,
	})
	if err != nil {
		return nil, err
	}
	d.bus.producer = p
	d.log.Info("bus producer ready", "bus", d.bus.cfg.Redacted(), "partitions", p.Partitions())
	return p, nil
}

// advertise is ADVERTISE_URL; with PORT=0 and no ADVERTISE_URL, the
// default names the port actually bound.
func (d *Daemon) advertise(bound net.Addr) string {
	a := d.cfg.Cluster.Advertise
	if d.cfg.Port == 0 && strings.HasSuffix(a, ":0") {
		if ta, ok := bound.(*net.TCPAddr); ok {
			a = strings.TrimSuffix(a, "0") + strconv.Itoa(ta.Port)
		}
	}
	return a
}

// startBus joins the consumer group (processes that route) and starts
// consuming into the router.
func (d *Daemon) startBus(bound net.Addr) error {
	if d.bus == nil || Role(d.cfg.Cluster.Role) == RoleIngest {
		return nil
	}
	c, err := bus.NewConsumer(d.bus.cfg, bus.ConsumerOptions{
		Group:     d.cfg.Cluster.Group,
		Advertise: d.advertise(bound),
		Publisher: d.router,
		// Offsets are committed only up to what every drain delivered
		// or dropped and counted.
		Settlement: workerSettlement(d.workers),
		Logger:     d.log,
		Metrics:    d.bus.metrics,
	})
	if err != nil {
		return err
	}
	d.bus.consumer = c
	ctx, cancel := context.WithCancel(context.Background())
	d.bus.cancel = cancel
	d.bus.done = make(chan error, 1)
	go func() {
		err := c.Run(ctx)
		if err != nil && !d.shuttingDown.Load() {
			d.log.Error("bus consumer failed", "err", err)
			d.serveErr <- fmt.Errorf("bus consumer: %w", err)
		}
		d.bus.done <- err
	}()
	d.log.Info("bus consumer started", "group", d.cfg.Cluster.Group, "advertise", d.advertise(bound))
	return nil
}

// stopBus runs once ingest has stopped: the producer flushes and closes,
// the consumer stops publishing (it stays in the group until closeBus, so
// its partitions do not move while its drains flush).
func (d *Daemon) stopBus(ctx context.Context) {
	if d.bus == nil {
		return
	}
	if d.bus.producer != nil {
		if err := d.bus.producer.Close(ctx); err != nil {
			d.log.Warn("bus producer flush", "err", err)
		}
	}
	if d.bus.cancel != nil {
		d.bus.cancel()
		select {
		case <-d.bus.done:
		case <-ctx.Done():
		}
	}
}

// closeBus runs after the drains flushed: commit what they finished and
// leave the group.
func (d *Daemon) closeBus(ctx context.Context) {
	if d.bus == nil || d.bus.consumer == nil {
		return
	}
	d.bus.consumer.Close(ctx)
}

// serveCluster answers GET /cluster: this process's view of the group.
func (d *Daemon) serveCluster(ctx *fasthttp.RequestCtx) {
	if d.cfg.Tokens.Enabled() && !d.isAdmin(ctx) {
		ctx.Error("GET /cluster needs the ADMIN_TOKEN\n", fasthttp.StatusUnauthorized)
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="sluice"`)
		return
	}
	doc := map[string]any{"mode": "single"}
	if d.bus != nil {
		doc["mode"] = "cluster"
		doc["role"] = d.cfg.Cluster.Role
		doc["bus"] = d.bus.cfg.Redacted()
		if c := d.bus.consumer; c != nil {
			doc["joined"] = c.Joined()
			doc["generation"] = c.Generation()
			doc["partitions"] = c.Status()
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.Write(append(b, '\n'))
}

// workerSettlement tells the bus consumer what the drains have finished:
// a position is each worker's Received count right after a Publish, and
// it is settled once every worker's Settled watermark reaches it.
type workerSettlement []*drains.Worker

func (ws workerSettlement) Mark() []uint64 {
	pos := make([]uint64, len(ws))
	for i, w := range ws {
		pos[i] = w.Received()
	}
	return pos
}

func (ws workerSettlement) Settled(pos []uint64) bool {
	for i, w := range ws {
		if w.Settled() < pos[i] {
			return false
		}
	}
	return true
}

var _ bus.Settlement = workerSettlement(nil)
