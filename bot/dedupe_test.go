package bot

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"github.com/visionbot/visionbot/bot/store"
	"go.uber.org/zap"
)

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1700000000, 0)} }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Every way Slack can deliver one message twice gets one answer.
func TestDuplicateDeliveries(t *testing.T) {
	t.Parallel()

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
			t.Parallel()

			clock := newFakeClock()
			socket, flows := &fakeSocket{}, &fakeFlows{}
			b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(),
				testCfg{Workers: 1, Queue: 8, Config: Config{DedupeTTL: 10 * time.Minute}, Deps: Deps{Store: store.NewMemory(clock.Now)}})
			b.queue.Start(context.Background())
			for _, d := range tt.deliveries {
				clock.Advance(d.later)
				ev := fixtureCallback(t, d.fixture, d.edit)
				ev.Data.(*slackevents.EventsAPICallbackEvent).EventID = d.eventID
				deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev,
					Request: &socketmode.Request{EnvelopeID: d.envelope, RetryAttempt: d.retry}})
			}
			b.queue.Shutdown(context.Background())
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
