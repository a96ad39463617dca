package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// newFakeClock is a clock (connection_test.go) that moves only when told.
func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1700000000, 0)} }

func TestMemoryStoreRemember(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	s := newMemory(maxMemoryKeys, clock.Now)
	ttl := 10 * time.Minute

	steps := []struct {
		name    string
		advance time.Duration
		keys    []string
		want    bool
	}{
		{"first delivery", 0, []string{"event:Ev1", "message:C1:1.1"}, true},
		{"Slack's retry of the same event", time.Second, []string{"event:Ev1", "message:C1:1.1"}, false},
		{"message.im for the message an app_mention already brought", time.Second, []string{"event:Ev2", "message:C1:1.1"}, false},
		{"another message", 0, []string{"event:Ev3", "message:C1:1.2"}, true},
		{"the same event 9m59s later", 9*time.Minute + 59*time.Second, []string{"event:Ev3"}, false},
		{"after the memory has expired", 2 * time.Second, []string{"event:Ev3"}, true},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got, err := s.Remember(context.Background(), ttl, st.keys...)
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("%s: Claim = %v, want %v", st.name, got, st.want)
		}
	}
}

// A flood of distinct events must not grow the memory without end: the
// oldest keys go first, the newest are still remembered.
func TestMemoryStoreIsBounded(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	const max = 100
	s := newMemory(max, clock.Now)
	ctx := context.Background()
	for i := range 10 * max {
		if _, err := s.Remember(ctx, time.Hour, fmt.Sprintf("event:Ev%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > max {
		t.Errorf("store holds %d keys, want at most %d", n, max)
	}
	if fresh, _ := s.Remember(ctx, time.Hour, fmt.Sprintf("event:Ev%d", 10*max-1)); fresh {
		t.Error("the newest event was forgotten")
	}
	if fresh, _ := s.Remember(ctx, time.Hour, "event:Ev0"); !fresh {
		t.Error("the oldest event is still remembered in a full store")
	}

	// Expired keys are pruned, and with them the insertion order.
	clock.Advance(2 * time.Hour)
	if _, err := s.Remember(ctx, time.Hour, "event:late"); err != nil {
		t.Fatal(err)
	}
	if n, o := s.Len(), len(s.order); n != 1 || o != 1 {
		t.Errorf("after expiry: %d keys and %d in order, want 1 and 1", n, o)
	}
}

func TestMemoryStoreCount(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	s := newMemory(maxMemoryKeys, clock.Now)
	ctx := context.Background()
	steps := []struct {
		advance   time.Duration
		wantN     int64
		wantReset time.Duration
	}{
		{0, 1, time.Minute},
		{10 * time.Second, 2, 50 * time.Second},
		{40 * time.Second, 3, 10 * time.Second},
		{10 * time.Second, 1, time.Minute}, // a new window
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		n, reset, err := count(ctx, s, "user:U1", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if n != st.wantN || reset != st.wantReset {
			t.Errorf("step %d: Count = %d, %v; want %d, %v", i, n, reset, st.wantN, st.wantReset)
		}
	}
}

// count is one counter's count through Store.Admit, with no seen keys.
func count(ctx context.Context, s admitter, key string, window time.Duration) (int64, time.Duration, error) {
	adm, err := s.Admit(ctx, time.Minute, nil, []Counter{{Key: key, Window: window}})
	if err != nil || len(adm.Counts) != 1 {
		return 0, 0, err
	}
	return adm.Counts[0].N, adm.Counts[0].ResetIn, nil
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
