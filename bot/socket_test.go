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

	"github.com/visionbot/visionbot/bot/queue"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
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

// fakeFlows records which flow ran for which request, and each refusal
// and interruption, as "kind channel ts".
type fakeFlows struct {
	mu     sync.Mutex
	calls  []string
	texts  []string
	teams  []string
	origin []handlers.Origin
	// refuse, when set, is Precheck: what the flows refuse of a request
	// before it is queued.
	refuse func(handlers.Request) (handlers.Refusal, bool)
}

func (f *fakeFlows) record(kind string, o handlers.Origin, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, kind+" "+o.Channel+" "+firstOf(o.Message, o.Thread))
	f.texts = append(f.texts, text)
	f.teams = append(f.teams, o.Team)
	f.origin = append(f.origin, o)
}

func (f *fakeFlows) Run(_ context.Context, r handlers.Request) {
	switch ask := r.Ask.(type) {
	case handlers.Said:
		kind := "mention"
		if r.Trigger == handlers.TriggerDM {
			kind = "dm"
		}
		f.record(kind, r.Origin, ask.Text)
	case handlers.Command:
		f.record("slash", r.Origin, ask.Text)
	case handlers.ShortcutOn:
		o := r.Origin
		o.Message = ask.Message.TS
		f.record("shortcut", o, r.TriggerID+" "+r.ResponseURL)
	case handlers.Submission:
		files := make([]string, 0, len(ask.Uploads))
		for _, u := range ask.Uploads {
			files = append(files, u.ID)
		}
		f.record("submit", r.Origin, ask.UseCase+"|"+ask.Question+"|"+r.Thread+"|"+strings.Join(append(files, ask.Files...), ","))
	case handlers.Rerun:
		o := r.Origin
		o.Message = r.Thread
		f.record("rerun", o, ask.UseCase+"|"+ask.Ref.UseCase+"|"+strings.Join(ask.Ref.Files, ","))
	case handlers.Vote:
		f.record("feedback", r.Origin, fmt.Sprintf("%v|%s", ask.Up, ask.Ref.UseCase))
	case handlers.Reacted:
		f.record("reaction", r.Origin, ask.Emoji+"|"+ask.UseCase)
	case handlers.HomeOpened:
		f.record("home", r.Origin, r.User)
	default:
		f.record(fmt.Sprintf("%T", r.Ask), r.Origin, "")
	}
}

func (f *fakeFlows) Interrupted(_ context.Context, o handlers.Origin, cause error) {
	kind := "failed"
	if failure.KindOf(cause) == failure.ShuttingDown {
		kind = "stopped"
	}
	f.record(kind+how(o), o, "")
}

func (f *fakeFlows) Decline(_ context.Context, o handlers.Origin, why handlers.Refusal) {
	f.record(refusalKind(why, how(o)), o, "")
}

func (f *fakeFlows) Precheck(r handlers.Request) (handlers.Refusal, bool) {
	if f.refuse == nil {
		return handlers.Refusal{}, false
	}
	return f.refuse(r)
}

// how names the route a notice takes in the recorded calls: "" for a
// message's thread, "-slash" privately for a command, a shortcut or a
// click, "-submit" privately for a form.
func how(o handlers.Origin) string {
	switch o.Trigger {
	case handlers.TriggerSlash, handlers.TriggerShortcut, handlers.TriggerRerun, handlers.TriggerFeedback:
		return "-slash"
	case handlers.TriggerForm:
		return "-submit"
	}
	return ""
}

// refusalKind names a refusal in the recorded calls: "busy", or the
// reason, how it was told and its limit and retry delay
// ("user-rate-slash(2 in 1m0s)").
func refusalKind(why handlers.Refusal, how string) string {
	name := map[handlers.RefusalReason]string{
		handlers.RefusedBusy: "busy", handlers.RefusedUserRate: "user-rate", handlers.RefusedChannelRate: "channel-rate",
		handlers.RefusedThreadCap: "thread-cap", handlers.RefusedNotEnabled: "not-enabled", handlers.RefusedUnknownTeam: "unknown-team",
		handlers.RefusedUserAllowance: "user-budget", handlers.RefusedChannelAllowance: "channel-budget", handlers.RefusedWorkspaceAllowance: "workspace-budget",
		handlers.RefusedQuestionTooLong: "question-too-long", handlers.RefusedOversized: "oversized",
	}[why.Reason] + how
	if why.Limit > 0 {
		name += fmt.Sprintf("(%d in %v)", why.Limit, why.RetryIn)
	}
	return name
}

// testConfig is the bot's configuration with workers and queue as given
// and the limits off, so that a test sees only what it sets up.
func testConfig(workers, queue int) testCfg {
	cfg := DefaultConfig()
	cfg.Limits = Limits{}
	return testCfg{Config: cfg, Workers: workers, Queue: queue}
}

// testCfg is a test bot's configuration: the loop's and admission's, and
// the size of its queue.
type testCfg struct {
	Config
	Deps
	Workers, Queue int
	// ShutdownGrace is the queue's; 0 for 10 s.
	ShutdownGrace time.Duration
}

// testFlows are the fakes of the flows the bot tests give the bot and its
// queue.
type testFlows interface {
	Flows
	Run(ctx context.Context, r handlers.Request)
	Interrupted(ctx context.Context, o handlers.Origin, cause error)
}

// unleased runs a test's flows on the real queue, whose requests of this
// process have no lease.
type unleased struct{ flows testFlows }

func (u unleased) Run(ctx context.Context, r handlers.Request, _ *queue.Lease) { u.flows.Run(ctx, r) }

func (u unleased) Interrupted(ctx context.Context, o handlers.Origin, cause error, _ *queue.Lease) {
	u.flows.Interrupted(ctx, o, cause)
}

// newTestBot is a Bot on a real queue of cfg's size, whose requests run
// within a minute each.
func newTestBot(socket Socket, events <-chan socketmode.Event, flows testFlows, self Identity, log *zap.Logger, cfg testCfg) *Bot {
	grace := cfg.ShutdownGrace
	if grace == 0 {
		grace = 10 * time.Second
	}
	q := queue.New(unleased{flows}, nil, log, queue.Config{Workers: cfg.Workers, Queue: cfg.Queue, JobTimeout: time.Minute, ShutdownGrace: grace})
	return New(socket, events, flows, q, self, log, cfg.Config, cfg.Deps)
}

// deliver hands an envelope to the loop, then runs admission for what the
// loop handed over, on the test's goroutine, so that a test needs no
// admission goroutines to wait for.
func deliver(b *Bot, evt socketmode.Event) {
	b.handle(evt)
	for len(b.intake) > 0 {
		b.admitEnvelope(context.Background(), <-b.intake)
	}
}

// slackFixture is a Slack fixture of ../shared/fixtures (copied into
// internal/fixtures/data), decoded.
func slackFixture(t *testing.T, rel string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "fixtures", "data", "slack", rel))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

// fixtureCallback reads an Events API fixture (wrapped or bare), applies
// edit to its inner event, and parses it as slack-go does for Socket Mode.
func fixtureCallback(t *testing.T, rel string, edit func(map[string]any)) slackevents.EventsAPIEvent {
	t.Helper()
	body := slackFixture(t, rel)
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
	t.Parallel()

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
			t.Parallel()

			socket, flows := &fakeSocket{}, &fakeFlows{}
			b := newTestBot(socket, nil, flows, self, zap.NewNop(), testConfig(1, 4))
			b.queue.Start(context.Background())
			ev := fixtureCallback(t, tt.fixture, tt.edit)
			deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: "env-1"}})
			b.queue.Shutdown(context.Background())

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

func (f *blockingFlows) Run(ctx context.Context, r handlers.Request) {
	f.started <- struct{}{}
	<-f.release
	f.fakeFlows.Run(ctx, r)
}

func TestDuplicatesAndOverflow(t *testing.T) {
	t.Parallel()

	socket := &fakeSocket{}
	flows := &blockingFlows{started: make(chan struct{}, 4), release: make(chan struct{})}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), testConfig(1, 1))
	b.queue.Start(context.Background())
	mention := func(envID, eventID, ts string) {
		ev := fixtureCallback(t, "socketmode/events_api_app_mention.slack-go.json", func(e map[string]any) { e["ts"] = ts })
		ev.Data.(*slackevents.EventsAPICallbackEvent).EventID = eventID
		deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: envID}})
	}
	mention("env-1", "Ev1", "1.000001") // runs, and holds the only worker
	<-flows.started
	mention("env-2", "Ev1", "1.000001") // Slack's retry: same event
	mention("env-3", "Ev3", "1.000001") // same message under a new event id
	mention("env-4", "Ev4", "2.000002") // waits in the queue
	mention("env-5", "Ev5", "3.000003") // no room: told to retry
	close(flows.release)
	b.queue.Shutdown(context.Background())

	if !slices.Equal(socket.acks, []string{"env-1", "env-2", "env-3", "env-4", "env-5"}) {
		t.Errorf("acks = %v: every envelope is acked", socket.acks)
	}
	slices.Sort(flows.calls)
	want := []string{"busy redacted 3.000003", "mention redacted 1.000001", "mention redacted 2.000002"}
	if !slices.Equal(flows.calls, want) {
		t.Errorf("flows = %v, want %v", flows.calls, want)
	}
}

// When admission is a whole intake behind, the person is told the bot is
// busy; but never outside the allow-lists, which promise silence there,
// and never for a Stop, which asks nothing.
func TestBusyIntakeKeepsTheAllowLists(t *testing.T) {
	t.Parallel()

	socket, flows := &fakeSocket{}, &fakeFlows{}
	cfg := testConfig(1, 8)
	cfg.Access = Access{Channels: SlackIDs{"C1"}}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
	b.queue.Start(context.Background())
	mention := func(eventID, channel string) socketmode.Event {
		return request{event: callback("T1", eventID, map[string]any{"type": "app_mention", "user": "U1", "user_team": "T1",
			"text": "<@UBOT> recipe", "ts": "1.00000" + eventID[len(eventID)-1:], "channel": channel})}.event(t, "env-"+eventID)
	}
	for len(b.intake) < cap(b.intake) {
		b.intake <- mention("Ev0", "C1")
	}
	b.handOver(mention("Ev1", "C9")) // outside ALLOWED_CHANNELS
	b.handOver(mention("Ev2", "C1"))
	b.handOver(request{event: callback("T1", "Ev3", map[string]any{"type": "agent_session_stopped", "user": "U1",
		"channel": "C1", "thread_ts": "1.000001"})}.event(t, "env-Ev3"))
	b.queue.Shutdown(context.Background())
	if !slices.Equal(flows.calls, []string{"busy C1 1.000002"}) {
		t.Errorf("flows = %q, want only the busy notice in the allowed channel", flows.calls)
	}
}
