package bot

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/internal/redistest"
)

// A Stop reaches the requests of its thread, and only those, for as long
// as they watch; a Stop for a thread with no request harms nothing.
func TestStopBoard(t *testing.T) {
	t.Parallel()

	board := NewStopBoard(zap.NewNop(), nil)
	var first, second, elsewhere atomic.Int32
	unwatchFirst := board.Watch("C1", "1.000100", func() { first.Add(1) })
	board.Watch("C1", "1.000100", func() { second.Add(1) })
	board.Watch("C1", "2.000100", func() { elsewhere.Add(1) })

	board.Stop(context.Background(), "C1", "1.000100")
	if first.Load() != 1 || second.Load() != 1 || elsewhere.Load() != 0 {
		t.Fatalf("stopped %d, %d in the thread and %d elsewhere; want 1, 1 and 0", first.Load(), second.Load(), elsewhere.Load())
	}
	unwatchFirst()
	board.Stop(context.Background(), "C1", "1.000100")
	if first.Load() != 1 || second.Load() != 2 {
		t.Errorf("after unwatch: stopped %d and %d, want 1 and 2", first.Load(), second.Load())
	}
	board.Stop(context.Background(), "C9", "9.000100") // no request there
	if elsewhere.Load() != 0 {
		t.Error("a Stop in another thread stopped a request")
	}
}

// With replicas, the Stop reaches the replica that runs the request,
// wherever Slack delivered the event.
func TestStopsCrossReplicas(t *testing.T) {
	t.Parallel()

	store.RouteRedisLogs(zap.NewNop())
	srv := redistest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var boards []*StopBoard
	for range 2 {
		store, err := store.NewRedis(srv.URL(), zap.NewNop(), redisOptions(2*time.Second, 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		board := NewStopBoard(zap.NewNop(), store)
		go board.listen(ctx)
		boards = append(boards, board)
	}
	// Both replicas listen before the Stop is published.
	raw := redistest.Client(t, srv.URL())
	channel := store.DefaultRedisOptions().Prefix + store.StopsChannel
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := raw.PubSubNumSub(ctx, channel).Result()
		if err == nil && n[channel] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas never subscribed to %s: %v %v", channel, n, err)
		}
		time.Sleep(5 * time.Millisecond) // polls Redis's own count of subscribers
	}

	stopped := make(chan string, 4)
	boards[0].Watch("C1", "1.000100", func() { stopped <- "the request in C1" })
	boards[0].Watch("C2", "1.000100", func() { stopped <- "a request in another channel" })
	next := func() string {
		t.Helper()
		select {
		case got := <-stopped:
			return got
		case <-time.After(10 * time.Second):
			t.Fatal("the Stop never reached the replica running the request")
			return ""
		}
	}
	boards[1].Stop(ctx, "C1", "1.000100") // delivered to the other replica
	if got := next(); got != "the request in C1" {
		t.Fatalf("stopped %s", got)
	}
	// Stops arrive in order: had the first stopped the other channel's
	// request too, that would come before the second Stop's.
	boards[1].Stop(ctx, "C1", "1.000100")
	if got := next(); got != "the request in C1" {
		t.Errorf("stopped %s", got)
	}
}
