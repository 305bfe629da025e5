package cluster

import (
	"context"
	"testing"

	"github.com/sluice-logs/sluice/bus"
)

// TestOwnerRedescribesAViewWithoutOwner: Kafka describes a rebalancing
// group's members without their assignments. Such a view must not be
// trusted (and cached) as "nobody owns the app": the group is described
// again, and the owner of the second view answers.
func TestOwnerRedescribesAViewWithoutOwner(t *testing.T) {
	const parts = 6
	part := bus.PartitionOf("app0", parts)
	views := [][]bus.Member{
		{{URL: "http://a:1"}, {URL: "http://b:2"}}, // rebalancing: no assignments
		{{URL: "http://a:1", Partitions: []int32{part}}, {URL: "http://b:2"}},
	}
	calls := 0
	p := New(Config{Secret: []byte("s"), Self: "http://b:2", Partitions: parts,
		Members: func(context.Context) ([]bus.Member, error) {
			v := views[min(calls, len(views)-1)]
			calls++
			return v, nil
		}})
	owner, err := p.Owner(context.Background(), "app0")
	if err != nil || owner != "http://a:1" {
		t.Fatalf("Owner = %q, %v; want http://a:1", owner, err)
	}
	if calls != 2 {
		t.Errorf("described the group %d times, want 2", calls)
	}
	// The good view is cached: no third description.
	if owner, _ := p.Owner(context.Background(), "app0"); owner != "http://a:1" || calls != 2 {
		t.Errorf("second Owner = %q after %d descriptions", owner, calls)
	}
	// This process owns app1's partition in no view: "" after two tries.
	calls = 0
	p = New(Config{Secret: []byte("s"), Self: "http://b:2", Partitions: parts,
		Members: func(context.Context) ([]bus.Member, error) { calls++; return views[0], nil }})
	if owner, _ := p.Owner(context.Background(), "app1"); owner != "" || calls != 2 {
		t.Errorf("Owner with no owner = %q after %d descriptions, want \"\" after 2", owner, calls)
	}
}
