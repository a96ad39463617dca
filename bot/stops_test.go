package bot

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/internal/redistest"
)

// A Stop reaches its person's requests in its thread, and only those, for
// as long as they watch; a Stop for a thread with no request harms
// nothing.
func TestStopBoard(t *testing.T) {
	t.Parallel()

	board := NewStopBoard(zap.NewNop(), nil)
	var first, second, someoneElse, elsewhere atomic.Int32
	unwatchFirst := board.Watch("C1", "1.000100", "U1", func() { first.Add(1) })
	board.Watch("C1", "1.000100", "U1", func() { second.Add(1) })
	board.Watch("C1", "1.000100", "U2", func() { someoneElse.Add(1) })
	board.Watch("C1", "2.000100", "U1", func() { elsewhere.Add(1) })

	board.Stop(context.Background(), "C1", "1.000100", "U1")
	if first.Load() != 1 || second.Load() != 1 || someoneElse.Load() != 0 || elsewhere.Load() != 0 {
		t.Fatalf("stopped %d, %d of U1 in the thread, %d of U2 and %d elsewhere; want 1, 1, 0 and 0",
			first.Load(), second.Load(), someoneElse.Load(), elsewhere.Load())
	}
	unwatchFirst()
	board.Stop(context.Background(), "C1", "1.000100", "U1")
	if first.Load() != 1 || second.Load() != 2 {
		t.Errorf("after unwatch: stopped %d and %d, want 1 and 2", first.Load(), second.Load())
	}
	board.Stop(context.Background(), "C9", "9.000100", "U1") // no request there
	if elsewhere.Load() != 0 || someoneElse.Load() != 0 {
		t.Error("a Stop in another thread, or by another person, stopped a request")
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
	boards[0].Watch("C1", "1.000100", "U1", func() { stopped <- "the request in C1" })
	boards[0].Watch("C1", "1.000100", "U2", func() { stopped <- "another person's request in C1" })
	boards[0].Watch("C2", "1.000100", "U1", func() { stopped <- "a request in another channel" })
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
	boards[1].Stop(ctx, "C1", "1.000100", "U1") // delivered to the other replica
	if got := next(); got != "the request in C1" {
		t.Fatalf("stopped %s", got)
	}
	// Stops arrive in order: had the first stopped the other channel's
	// request, or the other person's, that would come before the second
	// Stop's.
	boards[1].Stop(ctx, "C1", "1.000100", "U1")
	if got := next(); got != "the request in C1" {
		t.Errorf("stopped %s", got)
	}
}

// stopBy is a person's click on Slack's Stop button in a thread.
func stopBy(eventID, channel, thread, user string) request {
	return request{event: callback("T1", eventID, map[string]any{"type": "agent_session_stopped", "user": user,
		"channel": channel, "thread_ts": thread, "streaming_message_ts": []any{}, "event_ts": "1700000009.000100"})}
}

// A Stop is its person's: it ends their own requests in the thread, not
// those of someone else there, and the allow-lists apply to it as to any
// request, so that an outsider's click stops nothing.
func TestStopIsThePersonsOwn(t *testing.T) {
	tests := []struct {
		name   string
		access Access
		stop   request
		want   []string // the requests stopped
	}{
		{"the asker's Stop ends their request", Access{}, stopBy("Ev1", "C1", "1.000100", "U1"), []string{"U1"}},
		{"another person's Stop ends only their own", Access{}, stopBy("Ev1", "C1", "1.000100", "U2"), []string{"U2"}},
		{"an outsider's Stop (Slack Connect, another team) ends nothing", Access{}, stopBy("Ev1", "C1", "1.000100", "UX1"), nil},
		{"a Stop by someone ALLOWED_USERS leaves out ends nothing", Access{Users: SlackIDs{"U1"}}, stopBy("Ev1", "C1", "1.000100", "U2"), nil},
		{"a Stop in a channel outside ALLOWED_CHANNELS ends nothing", Access{Channels: SlackIDs{"C2"}}, stopBy("Ev1", "C1", "1.000100", "U1"), nil},
		{"a user whose team can't be looked up stops nothing", Access{}, stopBy("Ev1", "C1", "1.000100", "UFAIL"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			board := NewStopBoard(zap.NewNop(), nil)
			cfg := testConfig(1, 4)
			cfg.Access, cfg.Teams, cfg.Stops = tt.access, fakeTeams{}, board
			b := newTestBot(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
			var stopped []string
			for _, user := range []string{"U1", "U2", "UX1", "UFAIL"} {
				board.Watch("C1", "1.000100", user, func() { stopped = append(stopped, user) })
			}
			deliver(b, tt.stop.event(t, "env-1"))
			slices.Sort(stopped)
			if !slices.Equal(stopped, tt.want) {
				t.Errorf("stopped the requests of %q, want %q", stopped, tt.want)
			}
		})
	}
}
