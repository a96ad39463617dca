package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"go.uber.org/zap"
)

// stalledStore answers no call until release is closed, as a Redis that
// takes its time would.
type stalledStore struct {
	release chan struct{}
	memory  *store.Memory
}

func (s stalledStore) Admit(ctx context.Context, ttl time.Duration, seen []string, counters []store.Counter) (store.Admission, error) {
	<-s.release
	return s.memory.Admit(ctx, ttl, seen, counters)
}

func (s stalledStore) Remember(ctx context.Context, ttl time.Duration, keys ...string) (bool, error) {
	<-s.release
	return s.memory.Remember(ctx, ttl, keys...)
}

func (s stalledStore) Spend(ctx context.Context, ttl time.Duration, n int64, keys ...string) error {
	<-s.release
	return s.memory.Spend(ctx, ttl, n, keys...)
}

// signalSocket reports each ack on acked.
type signalSocket struct {
	fakeSocket
	acked chan string
}

func (s *signalSocket) Ack(req socketmode.Request, payload ...any) error {
	_ = s.fakeSocket.Ack(req, payload...)
	s.acked <- req.EnvelopeID
	return nil
}

// An ack never waits on the store: with every call to the store stalled,
// eight events arriving together are all acked, and answered once the
// store answers.
func TestAcksNeverWaitOnTheStore(t *testing.T) {
	t.Parallel()

	store := stalledStore{release: make(chan struct{}), memory: store.NewMemory(time.Now)}
	events := make(chan socketmode.Event)
	socket := &signalSocket{acked: make(chan string, 8)}
	flows := &fakeFlows{}
	cfg := testConfig(2, 16)
	cfg.Store = store
	cfg.Limits = Limits{User: Rate{N: 100, Per: time.Minute}, Channel: Rate{N: 100, Per: time.Minute}, ThreadReplies: 100, ThreadWindow: time.Hour}
	b := newTestBot(socket, events, flows, Identity{UserID: "UBOT"}, zap.NewNop(), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	sent := make([]socketmode.Event, 8)
	for i := range sent {
		sent[i] = mentionEvent(t, fmt.Sprintf("env-%d", i), fmt.Sprintf("1.00000%d", i))
	}
	go func() {
		for _, evt := range sent {
			select {
			case events <- evt:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range 8 {
		select {
		case <-socket.acked:
		case <-time.After(liveWait):
			t.Fatalf("an ack waited on the stalled store: %v acked", socket.acks)
		}
	}
	if n := flows.count(""); n != 0 {
		t.Fatalf("%d requests ran before the store answered", n)
	}
	close(store.release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(flows.calls); got != 8 {
		t.Errorf("answered %d of 8: %v", got, flows.calls)
	}
}

// countingTeams counts its lookups.
type countingTeams struct {
	mu    sync.Mutex
	calls int
	fail  bool
}

func (c *countingTeams) TeamOf(_ context.Context, user string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.fail {
		return "", fmt.Errorf("users.info: ratelimited")
	}
	return "T-" + user, nil
}

// A user's team is looked up once a day; a failed lookup is not kept.
func TestTeamCache(t *testing.T) {
	t.Parallel()

	lookup := &countingTeams{}
	clock := newFakeClock()
	c := &teamCache{lookup: lookup, max: 2, ttl: time.Hour, now: clock.Now, entries: map[string]cachedTeam{}}
	ctx := context.Background()
	steps := []struct {
		user      string
		advance   time.Duration
		fail      bool
		wantTeam  string
		wantCalls int
	}{
		{"U1", 0, false, "T-U1", 1},
		{"U1", 30 * time.Minute, false, "T-U1", 1}, // remembered
		{"U1", 31 * time.Minute, false, "T-U1", 2}, // a day has passed, in this test an hour
		{"U2", 0, true, "", 3},                     // a failure is not remembered
		{"U2", 0, false, "T-U2", 4},
		{"U3", 0, false, "T-U3", 5}, // beyond the bound, room is made
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		lookup.fail = st.fail
		team, err := c.TeamOf(ctx, st.user)
		if (err != nil) != st.fail || team != st.wantTeam || lookup.calls != st.wantCalls {
			t.Errorf("step %d: %q, %v after %d lookups; want %q after %d", i, team, err, lookup.calls, st.wantTeam, st.wantCalls)
		}
		if len(c.entries) > c.max {
			t.Errorf("step %d: %d entries, more than %d", i, len(c.entries), c.max)
		}
	}
}

// A request the flows would refuse once it ran (a question over their
// bound), or one larger than the queue takes, is refused at admission, and
// its person told why: it takes no room in the queue and runs nothing.
func TestRefusedBeforeTheQueue(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		text   string
		refuse func(handlers.Request) (handlers.Refusal, bool)
		want   string
	}{
		{"a question the flows refuse", "recipe " + strings.Repeat("why ", 600),
			func(handlers.Request) (handlers.Refusal, bool) {
				return handlers.Refusal{Reason: handlers.RefusedQuestionTooLong, Size: 2407, Limit: 2000}, true
			}, "question-too-long(2000 in 0s) C1 1.000001"},
		{"a request the queue can't hold", strings.Repeat("<", 40000), nil, "oversized(16384 in 0s) C1 1.000001"},
		{"a request within both", "recipe what is this?", nil, "mention C1 1.000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flows := &fakeFlows{refuse: tt.refuse}
			b := newTestBot(&fakeSocket{}, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), testConfig(1, 1))
			b.queue.Start(context.Background())
			defer b.queue.Shutdown(context.Background())
			ev := fixtureCallback(t, "socketmode/events_api_app_mention.slack-go.json", func(e map[string]any) {
				e["ts"], e["channel"], e["text"] = "1.000001", "C1", "<@UBOT> "+tt.text
			})
			deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: "env-1"}})
			waitUntil(t, tt.want, func() bool { return flows.count("") == 1 })
			if got := flows.calls[0]; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
