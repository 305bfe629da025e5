package daemon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// bulkSink is an HTTP server on loopback that answers the Elasticsearch
// bulk protocol (what the elasticsearch drain sends) with every item
// created, and records each document's _id and message.
type bulkSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids map[string][]string // message: the _id of each delivery
}

func newBulkSink(t *testing.T) *bulkSink {
	b := &bulkSink{ids: map[string][]string{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`)
			return
		}
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var items []string
		for sc.Scan() {
			var action map[string]struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &action); err != nil || !sc.Scan() {
				t.Errorf("bulk action %q: %v", sc.Text(), err)
				w.WriteHeader(400)
				return
			}
			var doc struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				t.Errorf("bulk document %q: %v", sc.Text(), err)
				w.WriteHeader(400)
				return
			}
			for op, a := range action {
				b.mu.Lock()
				b.ids[doc.Message] = append(b.ids[doc.Message], a.ID)
				b.mu.Unlock()
				items = append(items, fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"status":201}}`, op, a.Index, a.ID))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, strings.Join(items, ","))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// deliveries returns message → the _id of each of its deliveries.
func (b *bulkSink) deliveries() map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string][]string, len(b.ids))
	for m, ids := range b.ids {
		out[m] = append([]string(nil), ids...)
	}
	return out
}

// checkStableIDs checks that each message kept its _id on every delivery
// and that no two messages share one; it returns how many messages were
// delivered more than once.
func (b *bulkSink) checkStableIDs(t *testing.T) int {
	t.Helper()
	owner := map[string]string{}
	again := 0
	for msg, ids := range b.deliveries() {
		if len(ids) > 1 {
			again++
		}
		for _, id := range ids {
			if id == "" || id != ids[0] {
				t.Errorf("message %q delivered with _ids %q: want one stable id", msg, ids)
				break
			}
		}
		if other, dup := owner[ids[0]]; dup {
			t.Errorf("messages %q and %q share the _id %q", msg, other, ids[0])
		}
		owner[ids[0]] = msg
	}
	return again
}
