package bot

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
)

// newFakeClock is a clock (connection_test.go) that moves only when told.
func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1700000000, 0)} }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryStoreClaim(t *testing.T) {
	clock := newFakeClock()
	s := newMemoryStore(maxMemoryKeys, clock.Now)
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
		got, err := s.Claim(context.Background(), ttl, st.keys...)
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
	clock := newFakeClock()
	const max = 100
	s := newMemoryStore(max, clock.Now)
	ctx := context.Background()
	for i := range 10 * max {
		if _, err := s.Claim(ctx, time.Hour, fmt.Sprintf("event:Ev%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > max {
		t.Errorf("store holds %d keys, want at most %d", n, max)
	}
	if fresh, _ := s.Claim(ctx, time.Hour, fmt.Sprintf("event:Ev%d", 10*max-1)); fresh {
		t.Error("the newest event was forgotten")
	}
	if fresh, _ := s.Claim(ctx, time.Hour, "event:Ev0"); !fresh {
		t.Error("the oldest event is still remembered in a full store")
	}

	// Expired keys are pruned, and with them the insertion order.
	clock.Advance(2 * time.Hour)
	if _, err := s.Claim(ctx, time.Hour, "event:late"); err != nil {
		t.Fatal(err)
	}
	if n, o := s.Len(), len(s.order); n != 1 || o != 1 {
		t.Errorf("after expiry: %d keys and %d in order, want 1 and 1", n, o)
	}
}

func TestMemoryStoreCount(t *testing.T) {
	clock := newFakeClock()
	s := newMemoryStore(maxMemoryKeys, clock.Now)
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

// Every way Slack can deliver one message twice gets one answer.
func TestDuplicateDeliveries(t *testing.T) {
	const (
		mentionFixture = "socketmode/events_api_app_mention.slack-go.json"
		imFixture      = "events/message_im.slack-web.json"
		channelFixture = "events/message_file_share_png.bolt-python.json"
	)
	// One message, D1 1.000100, as each kind of event.
	sameMessage := func(channelType string) func(map[string]any) {
		return func(ev map[string]any) {
			ev["channel"], ev["ts"], ev["event_ts"], ev["user"] = "D1", "1.000100", "1.000100", "U1"
			if channelType != "" {
				ev["channel_type"] = channelType
			}
			delete(ev, "thread_ts")
		}
	}
	type delivery struct {
		fixture  string
		edit     func(map[string]any)
		eventID  string
		envelope string
		retry    int
		later    time.Duration // on the fake clock, before this delivery
	}
	tests := []struct {
		name       string
		deliveries []delivery
		want       []string
	}{
		{"Slack's retry (retry_attempt 1) of an app_mention", []delivery{
			{mentionFixture, sameMessage(""), "Ev1", "env-1", 0, 0},
			{mentionFixture, sameMessage(""), "Ev1", "env-2", 1, 0},
		}, []string{"mention D1 1.000100"}},
		{"the same event under a new envelope id", []delivery{
			{imFixture, sameMessage("im"), "Ev1", "env-1", 0, 0},
			{imFixture, sameMessage("im"), "Ev1", "env-2", 0, 0},
		}, []string{"dm D1 1.000100"}},
		{"the same event 9m59s later", []delivery{
			{mentionFixture, sameMessage(""), "Ev1", "env-1", 0, 0},
			{mentionFixture, sameMessage(""), "Ev1", "env-2", 3, 9*time.Minute + 59*time.Second},
		}, []string{"mention D1 1.000100"}},
		{"app_mention and message.im for one message", []delivery{
			{mentionFixture, sameMessage(""), "Ev1", "env-1", 0, 0},
			{imFixture, sameMessage("im"), "Ev2", "env-2", 0, 0},
		}, []string{"mention D1 1.000100"}},
		{"message.im first, then the app_mention", []delivery{
			{imFixture, sameMessage("im"), "Ev2", "env-1", 0, 0},
			{mentionFixture, sameMessage(""), "Ev1", "env-2", 0, 0},
		}, []string{"dm D1 1.000100"}},
		{"app_mention and message.channels for one message", []delivery{
			{mentionFixture, sameMessage(""), "Ev1", "env-1", 0, 0},
			{channelFixture, sameMessage("channel"), "Ev2", "env-2", 0, 0},
		}, []string{"mention D1 1.000100"}},
		{"two different messages are two answers", []delivery{
			{mentionFixture, sameMessage(""), "Ev1", "env-1", 0, 0},
			{mentionFixture, func(ev map[string]any) { sameMessage("")(ev); ev["ts"] = "1.000200" }, "Ev2", "env-2", 0, 0},
		}, []string{"mention D1 1.000100", "mention D1 1.000200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			socket, flows := &fakeSocket{}, &fakeFlows{}
			b := New(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(),
				Config{Workers: 1, Queue: 8, DedupeTTL: 10 * time.Minute, Store: newMemoryStore(maxMemoryKeys, clock.Now)})
			b.pool.start(context.Background(), time.Minute)
			for _, d := range tt.deliveries {
				clock.Advance(d.later)
				ev := fixtureCallback(t, d.fixture, d.edit)
				ev.Data.(*slackevents.EventsAPICallbackEvent).EventID = d.eventID
				deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev,
					Request: &socketmode.Request{EnvelopeID: d.envelope, RetryAttempt: d.retry}})
			}
			b.pool.stop(5 * time.Second)
			calls := slices.Sorted(slices.Values(flows.calls))
			if !slices.Equal(calls, tt.want) {
				t.Errorf("flows = %v, want %v", calls, tt.want)
			}
			if len(socket.acks) != len(tt.deliveries) {
				t.Errorf("acks = %v: every delivery is acked", socket.acks)
			}
		})
	}
}

// count is one counter's count through Store.Admit, with no seen keys.
func count(ctx context.Context, s Store, key string, window time.Duration) (int64, time.Duration, error) {
	adm, err := s.Admit(ctx, time.Minute, nil, []Counter{{Key: key, Window: window}})
	if err != nil || len(adm.Counts) != 1 {
		return 0, 0, err
	}
	return adm.Counts[0].N, adm.Counts[0].ResetIn, nil
}
