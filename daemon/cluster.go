package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/bus"
	"github.com/sluice-logs/sluice/cluster"
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
	proxy    *cluster.Proxy // nil without CLUSTER_SECRET: reads are answered locally
	self     string         // ADVERTISE_URL
	// partitions is the topic's partition count once known (0 before).
	partitions atomic.Int64
	cancel     context.CancelFunc
	done       chan error
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
	if d.bus == nil {
		return nil
	}
	d.bus.self = d.advertise(bound)
	if Role(d.cfg.Cluster.Role) == RoleIngest {
		return d.startProxy(d.bus.producer.Client(), d.bus.producer.Partitions())
	}
	c, err := bus.NewConsumer(d.bus.cfg, bus.ConsumerOptions{
		Group:     d.cfg.Cluster.Group,
		Advertise: d.bus.self,
		Publisher: d.router,
		// Offsets are committed only up to what every drain delivered
		// or dropped and counted.
		Settlement: workerSettlement(d.workers),
		// A partition that moved here: its apps' rings are rebuilt from
		// the topic before they are served.
		Rebuild: func(batch []sluice.Message) { d.store.Append(batch) },
		Replay:  d.cfg.Cluster.Replay,
		// Tails of apps whose partition moved end cleanly; their
		// clients reconnect, through the proxy, to the new owner.
		OnRevoked: func(ps []int32) { d.endTails(ps) },
		Logger:    d.log,
		Metrics:   d.bus.metrics,
	})
	if err != nil {
		return err
	}
	d.bus.consumer = c
	n := 0
	if d.bus.producer != nil {
		n = d.bus.producer.Partitions()
		d.bus.partitions.Store(int64(n))
	}
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
	d.log.Info("bus consumer started", "group", d.cfg.Cluster.Group, "advertise", d.bus.self)
	if d.bus.producer == nil {
		ctx, cancel := context.WithTimeout(context.Background(), busConnectTimeout)
		defer cancel()
		if n, err = bus.EnsureTopic(ctx, c.Client(), d.bus.cfg); err != nil {
			return err
		}
		d.bus.partitions.Store(int64(n))
	}
	return d.startProxy(c.Client(), n)
}

// endTails ends the tails of the apps of partitions this process no
// longer owns.
func (d *Daemon) endTails(ps []int32) {
	n := int(d.bus.partitions.Load())
	if d.tails == nil || n == 0 {
		return
	}
	if ended := d.tails.End(func(app string) bool { return slices.Contains(ps, bus.PartitionOf(app, n)) }); ended > 0 {
		d.log.Info("tails of moved partitions ended", "partitions", fmt.Sprint(ps), "tails", ended)
	}
}

// startProxy makes reads of apps this process does not own go to their
// owner (with CLUSTER_SECRET; without it every process answers from its
// own rings).
func (d *Daemon) startProxy(cl *kgo.Client, partitions int) error {
	if d.cfg.Cluster.Secret == "" {
		d.log.Warn("CLUSTER_SECRET is not set: reads are answered from this process's rings only, not proxied to the app's owner")
		return nil
	}
	group, topic := d.cfg.Cluster.Group, d.bus.cfg.Topic
	d.bus.proxy = cluster.New(cluster.Config{
		Secret: []byte(d.cfg.Cluster.Secret),
		Self:   d.bus.self,
		Members: func(ctx context.Context) ([]bus.Member, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return bus.Members(ctx, cl, group, topic)
		},
		Partitions: partitions,
		Logger:     d.log.With("component", "cluster"),
	})
	return nil
}

// fromMember reports whether the request carries a member's proof; a
// forged one (forged) has been answered 403. Without cluster mode's proxy
// nothing is a member.
func (d *Daemon) fromMember(ctx *fasthttp.RequestCtx) (member, forged bool) {
	if d.bus == nil || d.bus.proxy == nil {
		return false, false
	}
	present, valid := d.bus.proxy.Proven(ctx)
	if present && !valid {
		ctx.Error("forbidden: bad cluster proof\n", fasthttp.StatusForbidden)
		return false, true
	}
	return present, false
}

// proxyRead sends a read of app to the app's owner and reports whether it
// did. Tokens are checked here, where the request arrives; a request from
// a member must carry a valid proof and is answered here.
func (d *Daemon) proxyRead(ctx *fasthttp.RequestCtx, app string) bool {
	if d.bus == nil || d.bus.proxy == nil {
		return false
	}
	switch member, forged := d.fromMember(ctx); {
	case forged:
		return true
	case member:
		return false // a member's request: answer from this process
	}
	if d.cfg.Tokens.Enabled() {
		_, g, ok := d.cfg.Tokens.Authorize(string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)))
		if !ok || !g.CanRead(app) {
			return false // the tail handler answers 401 or 403
		}
	}
	if c := d.bus.consumer; c != nil && c.Owns(d.bus.proxy.Partition(app)) {
		return false // this process owns the app: no need to ask Kafka
	}
	owner, err := d.bus.proxy.Owner(context.Background(), app)
	if err != nil {
		d.log.Warn("cannot find the owner of an app; answering locally", "app", app, "err", err)
		return false
	}
	if owner == "" {
		return false
	}
	d.bus.proxy.Forward(ctx, owner)
	return true
}

// notReady answers 503 to /healthz while a routing process has not joined
// the group, and reports whether it did.
func (d *Daemon) notReady(ctx *fasthttp.RequestCtx) bool {
	if d.bus == nil || d.bus.consumer == nil || d.bus.consumer.Joined() {
		return false
	}
	ctx.Error("joining the cluster\n", fasthttp.StatusServiceUnavailable)
	ctx.Response.Header.Set("Retry-After", "1")
	return true
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
		case err := <-d.bus.done:
			if err != nil {
				d.log.Warn("bus consumer stopped", "err", err)
			}
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
		doc["advertise"] = d.bus.self
		if c := d.bus.consumer; c != nil {
			doc["joined"] = c.Joined()
			doc["generation"] = c.Generation()
			doc["partitions"] = c.Status()
		}
		if p := d.bus.proxy; p != nil {
			if ms, err := p.Members(context.Background()); err == nil {
				doc["members"] = ms
			} else {
				doc["members_error"] = err.Error()
			}
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
