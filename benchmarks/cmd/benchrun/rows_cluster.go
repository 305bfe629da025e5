package main

// Rows of issue 12 (cluster mode on Kafka): ingest → bus → rings against
// the single-process rings-c2-a100 row, and the time from a SIGKILL to
// every partition owned again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// clusterRows registers the rows: cluster-rings, cluster-failover.
func (b *bench) clusterRows(add func(id, needs, title string, run func(ctx context.Context, i int) (sample, error))) {
	add("cluster-rings", "sluiced", "sluiced cluster mode (BUS_URL, acks=all, lz4, 4 partitions): syslog TCP → bus → rings, 2 conns, 100 apps; beside rings-c2-a100", b.clusterRings)
	add("cluster-failover", "sluiced", "3 sluiced in cluster mode, 12 partitions: SIGKILL one, time until the survivors own every partition", b.clusterFailover)
}

// busConsumed counts the messages sluiced consumed from the bus into its
// rings and drains.
func (sl *sluicedProc) busConsumed() func() (int64, error) {
	const name = "sluice_bus_consumed_total"
	return func() (int64, error) {
		m, err := metrics(sl.http+"/metrics", name)
		return int64(m[name]), err
	}
}

// clusterRings is rings-c2-a100 with BUS_URL set: each message is produced
// to the bench broker (acks=all) and consumed back into the rings by the
// same process. The row's CPU is sluiced's; the broker's is in the note.
func (b *bench) clusterRings(ctx context.Context, _ int) (sample, error) {
	bp, addr, kc, err := b.broker(ctx)
	if err != nil {
		return na(), err
	}
	defer bp.stop()
	defer kc.Close()
	sl, err := b.startSluiced(ctx, "BUS_URL=kafka://"+addr+"/"+topic)
	if err != nil {
		return na(), err
	}
	defer sl.stop()
	bcpu0, err := bp.cpu()
	if err != nil {
		return na(), err
	}
	s, err := b.runLoad(ctx, sl.proc, sl.http+"/metrics", b.loadArgs(sl.syslog, 2, 100), sl.busConsumed(), countScrapes, fillRings)
	if err != nil {
		return s, err
	}
	bcpu1, err := bp.cpu()
	if err != nil {
		return s, err
	}
	n, err := sl.busConsumed()()
	if err != nil {
		return s, err
	}
	s.Note = fmt.Sprintf("broker (kfake) %s CPU s/1M msgs", num((bcpu1-bcpu0)/(float64(n)/1e6), 2))
	return s, nil
}

// clusterDoc is the part of GET /cluster the failover row reads.
type clusterDoc struct {
	Joined     bool  `json:"joined"`
	Generation int32 `json:"generation"`
	Partitions []struct {
		Partition int32 `json:"partition"`
	} `json:"partitions"`
}

// ownAll reports whether the processes, in one group generation, own each
// of n partitions once.
func ownAll(ctx context.Context, sls []*sluicedProc, n int) (bool, error) {
	own := map[int32]bool{}
	gen := int32(-1)
	for _, sl := range sls {
		req, _ := http.NewRequestWithContext(ctx, "GET", sl.http+"/cluster", nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, nil
		}
		var doc clusterDoc
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || !doc.Joined || (gen >= 0 && doc.Generation != gen) {
			return false, nil
		}
		gen = doc.Generation
		for _, p := range doc.Partitions {
			if own[p.Partition] {
				return false, nil
			}
			own[p.Partition] = true
		}
	}
	return len(own) == n, nil
}

// clusterFailover starts three processes on one topic of 12 partitions,
// has them route b.n/10 messages (so the takeover rebuilds rings), kills
// one with SIGKILL and times how long until the two others own every
// partition (the group's session timeout, 6s, is most of it).
func (b *bench) clusterFailover(ctx context.Context, i int) (sample, error) {
	s := na()
	s.Rate, s.MiBps, s.CPUPerM, s.RSSMiB = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	bp, addr, kc, err := b.broker(ctx)
	if err != nil {
		return s, err
	}
	defer bp.stop()
	defer kc.Close()
	const parts = 12
	env := []string{"BUS_URL=kafka://" + addr + "/failover" + strconv.Itoa(i) + "?partitions=" + strconv.Itoa(parts)}
	var sls []*sluicedProc
	defer func() {
		for _, sl := range sls {
			sl.stop()
		}
	}()
	for range 3 {
		sl, err := b.startSluiced(ctx, env...)
		if err != nil {
			return s, err
		}
		sls = append(sls, sl)
	}
	if err := waitFor(ctx, "3 processes own every partition", time.Minute, sls[0].proc, func() (bool, error) { return ownAll(ctx, sls, parts) }); err != nil {
		return s, err
	}
	n := max(b.n/10, 1000)
	consumed := func() (int64, error) {
		var sum int64
		for _, sl := range sls {
			c, err := sl.busConsumed()()
			if err != nil {
				return 0, err
			}
			sum += c
		}
		return sum, nil
	}
	args := []string{"-syslog", sls[0].syslog, "-framing", "octet", "-conns", "2", "-apps", "100", "-n", strconv.FormatInt(n, 10)}
	if _, _, err := b.load(ctx, sls[0].proc, args, n, consumed, false); err != nil {
		return s, err
	}
	victim := sls[2]
	t0 := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		return s, err
	}
	select {
	case <-victim.done:
	case <-time.After(10 * time.Second):
		return s, errors.New("the killed process did not exit")
	}
	survivors := sls[:2]
	if err := waitFor(ctx, "survivors own every partition", time.Minute, survivors[0].proc, func() (bool, error) { return ownAll(ctx, survivors, parts) }); err != nil {
		return s, err
	}
	took := time.Since(t0)
	s.Note = fmt.Sprintf("every partition owned again %s after the SIGKILL, %s msgs routed before", took.Round(10*time.Millisecond), thousands(float64(n)))
	return s, nil
}
