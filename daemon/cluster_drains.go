package daemon

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/drains"
)

// memberDrains is one member's answer to /drains in a cluster view.
type memberDrains struct {
	URL    string          `json:"url"`
	Drains []drains.Status `json:"drains,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// clusterDrains answers GET /drains?cluster=1: every routing member's
// drains (asked with a member proof, in parallel, within 5 s) and their
// sum per drain name. Each process runs every drain for the partitions it
// owns, so the sum is the cluster's accounting: received = delivered +
// dropped + queued holds for it as for each member.
func (d *Daemon) clusterDrains(ctx *fasthttp.RequestCtx, local []drains.Status) {
	p := d.bus.proxy
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ms, err := p.Members(c)
	if err != nil {
		ctx.Error("describe the group: "+err.Error()+"\n", fasthttp.StatusBadGateway)
		return
	}
	out := make([]memberDrains, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		out[i].URL = m.URL
		if m.URL == d.bus.self {
			out[i].Drains = local
			continue
		}
		wg.Go(func() {
			b, err := p.Get(c, m.URL, "/drains")
			var doc struct {
				Drains []drains.Status `json:"drains"`
			}
			if err == nil {
				err = json.Unmarshal(b, &doc)
			}
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Drains = doc.Drains
		})
	}
	wg.Wait()
	b, err := json.MarshalIndent(map[string]any{"drains": sumDrains(out), "members": out}, "", "  ")
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.Write(append(b, '\n'))
}

// sumDrains adds the members' statuses up per drain name. State is "ok"
// only when it is everywhere; otherwise the first other state seen.
func sumDrains(ms []memberDrains) []drains.Status {
	var sum []drains.Status
	at := map[string]int{}
	for _, m := range ms {
		for _, s := range m.Drains {
			i, ok := at[s.Name]
			if !ok {
				at[s.Name] = len(sum)
				s.Dropped = copyCounts(s.Dropped)
				s.LastError = ""
				sum = append(sum, s)
				continue
			}
			t := &sum[i]
			t.QueueMessages += s.QueueMessages
			t.QueueBytes += s.QueueBytes
			t.Received += s.Received
			t.Delivered += s.Delivered
			t.Retries += s.Retries
			for r, n := range s.Dropped {
				t.Dropped[r] += n
			}
			if t.State == "ok" && s.State != "ok" {
				t.State = s.State
			}
			if s.LastDelivery.After(t.LastDelivery) {
				t.LastDelivery = s.LastDelivery
			}
		}
	}
	slices.SortFunc(sum, func(a, b drains.Status) int { return strings.Compare(a.Name, b.Name) })
	return sum
}

// copyCounts copies m (nil stays an empty map, so sums can be added to it).
func copyCounts(m map[string]uint64) map[string]uint64 {
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
