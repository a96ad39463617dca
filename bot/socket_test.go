package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
)

// fakeSocket records acks.
type fakeSocket struct {
	mu   sync.Mutex
	acks []string
}

func (f *fakeSocket) RunContext(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func (f *fakeSocket) Ack(req socketmode.Request, _ ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks = append(f.acks, req.EnvelopeID)
	return nil
}

// fakeFlows records which flow ran for which message.
type fakeFlows struct {
	mu    sync.Mutex
	calls []string
	texts []string
}

func (f *fakeFlows) record(kind string, m handlers.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, kind+" "+m.Channel+" "+m.TS)
	f.texts = append(f.texts, m.Text)
}

func (f *fakeFlows) Mention(_ context.Context, m handlers.Message)       { f.record("mention", m) }
func (f *fakeFlows) DirectMessage(_ context.Context, m handlers.Message) { f.record("dm", m) }
func (f *fakeFlows) Slash(_ context.Context, c handlers.SlashCommand) {
	f.record("slash", handlers.Message{Channel: c.Channel, Text: c.Text})
}
func (f *fakeFlows) Shortcut(_ context.Context, s handlers.Shortcut) {
	f.record("shortcut", handlers.Message{Channel: s.Channel, TS: s.Message.TS, Text: s.TriggerID + " " + s.ResponseURL, Files: s.Message.Files})
}
func (f *fakeFlows) Submit(_ context.Context, sub handlers.Submission) {
	f.record("submit", handlers.Message{Text: sub.UseCase + "|" + sub.Question + "|" + sub.Metadata, Files: sub.Files})
}
func (f *fakeFlows) Rerun(_ context.Context, a handlers.Action) {
	f.record("rerun", handlers.Message{Channel: a.Channel, TS: a.Thread, Text: a.UseCase + "|" + a.Ref.UseCase + "|" + strings.Join(a.Ref.Files, ",")})
}
func (f *fakeFlows) Feedback(_ context.Context, v handlers.Vote) {
	f.record("feedback", handlers.Message{Channel: v.Channel, Text: fmt.Sprintf("%v|%s", v.Up, v.Ref.UseCase)})
}
func (f *fakeFlows) Reaction(_ context.Context, rx handlers.Reaction) {
	f.record("reaction", handlers.Message{Channel: rx.Channel, TS: rx.TS, Text: rx.Emoji})
}
func (f *fakeFlows) Interrupted(_ context.Context, m handlers.Message, why handlers.Interruption) {
	f.record(interruptedKind(why), m)
}
func (f *fakeFlows) InterruptedSlash(_ context.Context, c handlers.SlashCommand, why handlers.Interruption) {
	f.record(interruptedKind(why)+"-slash", handlers.Message{Channel: c.Channel})
}
func (f *fakeFlows) InterruptedSubmit(_ context.Context, sub handlers.Submission, why handlers.Interruption) {
	f.record(interruptedKind(why)+"-submit", handlers.Message{User: sub.User})
}

func (f *fakeFlows) Decline(_ context.Context, m handlers.Message, why handlers.Refusal) {
	f.record(refusalKind(why, ""), m)
}
func (f *fakeFlows) DeclineSlash(_ context.Context, c handlers.SlashCommand, why handlers.Refusal) {
	f.record(refusalKind(why, "-slash"), handlers.Message{Channel: c.Channel, User: c.User})
}
func (f *fakeFlows) DeclineSubmit(_ context.Context, sub handlers.Submission, why handlers.Refusal) {
	channel, thread := sub.Target()
	f.record(refusalKind(why, "-submit"), handlers.Message{Channel: channel, TS: thread, User: sub.User})
}

// refusalKind names a refusal in the recorded calls: "busy", or the
// reason, how it was told and its limit and retry delay
// ("user-rate-slash(2 in 1m0s)").
func refusalKind(why handlers.Refusal, how string) string {
	name := map[handlers.RefusalReason]string{
		handlers.RefusedBusy: "busy", handlers.RefusedUserRate: "user-rate", handlers.RefusedChannelRate: "channel-rate",
		handlers.RefusedThreadCap: "thread-cap", handlers.RefusedNotEnabled: "not-enabled",
	}[why.Reason] + how
	if why.Limit > 0 {
		name += fmt.Sprintf("(%d in %v)", why.Limit, why.RetryIn)
	}
	return name
}

func interruptedKind(why handlers.Interruption) string {
	if why == handlers.InterruptedByStop {
		return "stopped"
	}
	return "failed"
}

func (f *fakeFlows) Triggers(emoji string) bool { return emoji == "fork_and_knife" }
func (f *fakeFlows) HomeOpened(_ context.Context, user string) {
	f.record("home", handlers.Message{User: user, Text: user})
}

// fixtureCallback reads an Events API fixture (wrapped or bare), applies
// edit to its inner event, and parses it as slack-go does for Socket Mode.
func fixtureCallback(t *testing.T, rel string, edit func(map[string]any)) slackevents.EventsAPIEvent {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "fixtures", "data", "slack", rel))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	if payload, ok := body["payload"].(map[string]any); ok { // a whole Socket Mode frame
		body = payload
	}
	if _, ok := body["event"]; !ok { // a bare inner event
		body = map[string]any{"type": "event_callback", "event_id": "EvBARE", "event": body}
	}
	if edit != nil {
		edit(body["event"].(map[string]any))
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := slackevents.ParseEvent(raw, slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatalf("parse %s: %v", rel, err)
	}
	return ev
}

func TestRouting(t *testing.T) {
	self := Identity{UserID: "UBOT", BotID: "BBOT"}
	set := func(kv ...string) func(map[string]any) {
		return func(ev map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				ev[kv[i]] = kv[i+1]
			}
		}
	}
	tests := []struct {
		name     string
		fixture  string
		edit     func(map[string]any)
		want     []string // flow calls
		wantText string
	}{
		{"a mention runs the mention flow without the bot's own mention", "socketmode/events_api_app_mention.slack-go.json",
			set("text", "<@UBOT> recipe please", "channel", "C1"), []string{"mention C1 1610927831.000200"}, "recipe please"},
		{"a mention from a bot is ignored", "socketmode/events_api_app_mention.slack-go.json",
			set("bot_id", "B999"), nil, ""},
		{"a mention by the bot itself is ignored", "socketmode/events_api_app_mention.slack-go.json",
			set("user", "UBOT"), nil, ""},
		{"an app_mention with files sent by a bot (as in slack-go's test) is ignored", "events/app_mention_with_files.slack-go.json",
			nil, nil, ""},
		{"the same app_mention with files sent by a person runs the mention flow", "events/app_mention_with_files.slack-go.json",
			func(ev map[string]any) { delete(ev, "bot_id") }, []string{"mention C0LAN2Q65 1628259917.003000"}, ""},
		{"a DM runs the DM flow", "events/message_im.slack-web.json",
			nil, []string{"dm D0442US94JD 1664408649.009629"}, "test"},
		{"a DM file share runs the DM flow", "events/message_file_share.slack-web.json",
			nil, []string{"dm"}, ""},
		{"a channel message is not a request", "events/message_file_share_png.bolt-python.json",
			nil, nil, ""},
		{"an edit is not a request", "events/message_changed.slack-web.json",
			set("channel_type", "im"), nil, ""},
		{"another bot's message is ignored", "events/bot_message.slack-web.json",
			set("channel_type", "im"), nil, ""},
		{"the bot's own post without a subtype is ignored", "events/message_from_own_bot_no_subtype.slack-web.json",
			set("channel_type", "im", "bot_id", "BBOT"), nil, ""},
		{"a message by the bot's user id is ignored", "events/message_im.slack-web.json",
			set("user", "UBOT"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket, flows := &fakeSocket{}, &fakeFlows{}
			b := New(socket, nil, flows, self, zap.NewNop(), Config{Workers: 1, Queue: 4})
			b.pool.start(context.Background(), time.Minute)
			ev := fixtureCallback(t, tt.fixture, tt.edit)
			b.handle(socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: "env-1"}})
			b.pool.stop(5*time.Second, func() {})

			if !slices.Equal(socket.acks, []string{"env-1"}) {
				t.Errorf("acks = %v, want the envelope acked once", socket.acks)
			}
			if len(flows.calls) != len(tt.want) {
				t.Fatalf("flows = %v, want %v", flows.calls, tt.want)
			}
			for i, w := range tt.want {
				if len(flows.calls[i]) < len(w) || flows.calls[i][:len(w)] != w {
					t.Errorf("flow %d = %q, want %q", i, flows.calls[i], w)
				}
			}
			if tt.wantText != "" && flows.texts[0] != tt.wantText {
				t.Errorf("text = %q, want %q", flows.texts[0], tt.wantText)
			}
		})
	}
}

// blockingFlows holds every mention until release is closed.
type blockingFlows struct {
	fakeFlows
	started chan struct{}
	release chan struct{}
}

func (f *blockingFlows) Mention(ctx context.Context, m handlers.Message) {
	f.started <- struct{}{}
	<-f.release
	f.fakeFlows.Mention(ctx, m)
}

func TestDuplicatesAndOverflow(t *testing.T) {
	socket := &fakeSocket{}
	flows := &blockingFlows{started: make(chan struct{}, 4), release: make(chan struct{})}
	b := New(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), Config{Workers: 1, Queue: 1})
	b.pool.start(context.Background(), time.Minute)
	mention := func(envID, eventID, ts string) {
		ev := fixtureCallback(t, "socketmode/events_api_app_mention.slack-go.json", func(e map[string]any) { e["ts"] = ts })
		ev.Data.(*slackevents.EventsAPICallbackEvent).EventID = eventID
		b.handle(socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: envID}})
	}
	mention("env-1", "Ev1", "1.000001") // runs, and holds the only worker
	<-flows.started
	mention("env-2", "Ev1", "1.000001") // Slack's retry: same event
	mention("env-3", "Ev3", "1.000001") // same message under a new event id
	mention("env-4", "Ev4", "2.000002") // waits in the queue
	mention("env-5", "Ev5", "3.000003") // no room: told to retry
	close(flows.release)
	b.pool.stop(5*time.Second, func() {})

	if !slices.Equal(socket.acks, []string{"env-1", "env-2", "env-3", "env-4", "env-5"}) {
		t.Errorf("acks = %v: every envelope is acked", socket.acks)
	}
	slices.Sort(flows.calls)
	want := []string{"busy redacted 3.000003", "mention redacted 1.000001", "mention redacted 2.000002"}
	if !slices.Equal(flows.calls, want) {
		t.Errorf("flows = %v, want %v", flows.calls, want)
	}
}
