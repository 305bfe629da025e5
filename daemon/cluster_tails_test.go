package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/bus"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// TestClusterTailsEndOnMove opens a tail per partition on the only
// process, then starts a second one: the tails of the partitions that move
// to it end with a complete response (their clients reconnect, to the new
// owner), and the others go on streaming.
func TestClusterTailsEndOnMove(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	const parts = 6
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=6", "CLUSTER_SECRET=test-secret-0123456789"}
	first := startMember(t, bin, env...)
	owners(t, []*member{first}, parts, 60*time.Second)

	apps := map[int32]string{} // one app per partition
	for i := 0; len(apps) < parts; i++ {
		app := fmt.Sprintf("app%d", i)
		if p := bus.PartitionOf(app, parts); apps[p] == "" {
			apps[p] = app
		}
	}
	type tailEnd struct{ err error }
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	lines := map[int32]chan string{}
	ended := map[int32]chan tailEnd{}
	for p, app := range apps {
		req, _ := http.NewRequestWithContext(ctx, "GET", first.base+"/apps/"+app+"/logs?tail=1&num=0", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("tail of %s: %v %v", app, resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		lines[p], ended[p] = make(chan string, 100), make(chan tailEnd, 1)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines[p] <- sc.Text()
			}
			// A clean end of a chunked response is io.EOF (nil here);
			// a broken one is io.ErrUnexpectedEOF.
			ended[p] <- tailEnd{err: sc.Err()}
		}()
	}
	second := startMember(t, bin, env...)
	// The cooperative rebalance takes two generations: wait for the one
	// where the second process owns something.
	eventually.Within(t, 60*time.Second, "the second process owns partitions", func() bool {
		doc, err := second.cluster()
		return err == nil && len(doc.Partitions) > 0
	})
	own := owners(t, []*member{first, second}, parts, 60*time.Second)
	moved := 0
	for p := range apps {
		if own[p] != 1 {
			continue
		}
		moved++
		select {
		case e := <-ended[p]:
			if e.err != nil {
				t.Errorf("tail of %s (partition %d, moved) ended with %v, want a clean end", apps[p], p, e.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("tail of %s (partition %d) still open after its partition moved", apps[p], p)
		}
	}
	if moved == 0 {
		t.Fatal("no partition moved to the second process")
	}
	for p, app := range apps {
		if own[p] != 0 {
			continue
		}
		if code := second.postNDJSON(fmt.Sprintf(`{"app":%q,"msg":"still here"}`+"\n", app)); code != 204 {
			t.Fatalf("POST: %d", code)
		}
		select {
		case l := <-lines[p]:
			if !strings.HasSuffix(l, "still here") {
				t.Errorf("tail of %s (kept): %q", app, l)
			}
		case e := <-ended[p]:
			t.Errorf("tail of %s (partition %d, not moved) ended: %v", app, p, e.err)
		case <-time.After(30 * time.Second):
			t.Fatalf("tail of %s (partition %d, not moved) got nothing", app, p)
		}
	}
	t.Logf("%d of %d partitions moved; their tails ended cleanly, the others streamed on", moved, parts)
}
