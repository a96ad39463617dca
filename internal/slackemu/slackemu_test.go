package slackemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/goleak"
)

const (
	botToken = "xoxb-test-token"
	appToken = "xapp-test-token"
	wait     = 5 * time.Second
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "data", "slack", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newEmu starts an emulator with fixed tokens and a slack-go client for it.
func newEmu(t *testing.T) (*Server, *slack.Client) {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	s.SetBotToken(botToken)
	s.SetAppToken(appToken)
	api := slack.New(botToken, slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(appToken))
	return s, api
}

// runSocketMode runs the real socketmode client; it acks every request it
// gets (slash commands with a payload) and forwards them on the returned
// channel. Stopping waits for the client to return.
func runSocketMode(t *testing.T, api *slack.Client) <-chan socketmode.Event {
	t.Helper()
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan socketmode.Event, 16)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		_ = sm.RunContext(ctx)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				if evt.Request == nil || evt.Request.EnvelopeID == "" {
					continue
				}
				if evt.Type == socketmode.EventTypeSlashCommand {
					_ = sm.Ack(*evt.Request, map[string]any{"text": "working on it"})
				} else {
					_ = sm.Ack(*evt.Request)
				}
				got <- evt
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	return got
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSocketModeEventsAndAcks(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	events := runSocketMode(t, api)
	if err := s.WaitConnected(wait); err != nil {
		t.Fatal(err)
	}
	if c := s.Calls("apps.connections.open"); len(c) != 1 || c[0].Token != appToken {
		t.Fatalf("apps.connections.open calls = %+v", c)
	}

	env, err := s.SendEvent(fixture(t, "events/app_mention_with_files.slack-go.json"), "EvTEST1")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case evt := <-events:
		outer, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			t.Fatalf("event data is %T", evt.Data)
		}
		cb := outer.Data.(*slackevents.EventsAPICallbackEvent)
		if cb.EventID != "EvTEST1" || outer.TeamID != TeamID {
			t.Errorf("callback = %+v", cb)
		}
		mention, ok := outer.InnerEvent.Data.(*slackevents.AppMentionEvent)
		if !ok {
			t.Fatalf("inner event is %T", outer.InnerEvent.Data)
		}
		if len(mention.Files) != 1 || mention.Files[0].ID != "F12345" || mention.Channel != "C0LAN2Q65" {
			t.Errorf("mention = %+v", mention)
		}
		if evt.Request.EnvelopeID != env {
			t.Errorf("envelope id %q, want %q", evt.Request.EnvelopeID, env)
		}
	case <-time.After(wait):
		t.Fatal("no event received")
	}
	ack, err := s.WaitAck(env, wait)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Payload != nil || ack.Latency() <= 0 || ack.Latency() > wait {
		t.Errorf("ack = %+v, latency %v", ack, ack.Latency())
	}

	// A slash command: the client sees the emulator's response_url and
	// trigger_id, acks with a payload, and posts to the response_url.
	env, err = s.SendSlashCommand(map[string]string{"text": "help", "channel_id": "C1", "user_id": "U1"})
	if err != nil {
		t.Fatal(err)
	}
	var cmd slack.SlashCommand
	select {
	case evt := <-events:
		cmd = evt.Data.(slack.SlashCommand)
	case <-time.After(wait):
		t.Fatal("no slash command received")
	}
	if cmd.Command != "/analyze" || cmd.Text != "help" || !strings.HasPrefix(cmd.ResponseURL, s.URL()+"response/") {
		t.Errorf("command = %+v", cmd)
	}
	ack, err = s.WaitAck(env, wait)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ack.Payload), "working on it") {
		t.Errorf("ack payload = %s", ack.Payload)
	}
	if err := slack.PostWebhook(cmd.ResponseURL, &slack.WebhookMessage{Text: "usage", ResponseType: "ephemeral"}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.WaitResponses(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if resp[0].Body["text"] != "usage" || resp[0].Body["response_type"] != "ephemeral" {
		t.Errorf("response = %+v", resp[0])
	}

	// The trigger opens one view.
	view := slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Analyze", false, false)}
	vr, err := api.OpenViewContext(context.Background(), cmd.TriggerID, view)
	if err != nil || !strings.HasPrefix(vr.ID, "V") {
		t.Fatalf("views.open = %+v, %v", vr, err)
	}
	if _, err := api.OpenViewContext(context.Background(), cmd.TriggerID, view); err == nil || err.Error() != "exchanged_trigger_id" {
		t.Errorf("reused trigger: %v", err)
	}
	if _, err := api.UpdateViewContext(context.Background(), view, "", vr.Hash, vr.ID); err != nil {
		t.Errorf("views.update: %v", err)
	}

	// A disconnect frame makes the client reconnect; malformed frames are
	// survivable.
	if err := s.SendRaw([]byte(`{"type":`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SendDisconnect("refresh_requested"); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitConnects(2, wait); err != nil {
		t.Fatal(err)
	}
}

func TestAuthAndErrors(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	s.SetScopes("chat:write,files:read")
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if auth.UserID != BotUserID || auth.BotID != BotID || auth.TeamID != TeamID || auth.User != User {
		t.Errorf("auth.test = %+v", auth)
	}
	if got := auth.Header.Get("X-OAuth-Scopes"); got != "chat:write,files:read" {
		t.Errorf("scopes header = %q", got)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"}); err == nil || err.Error() != "missing_scope" {
		t.Errorf("history without scope: %v", err)
	}

	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(s.APIURL()))
	if _, err := bad.AuthTestContext(ctx); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("wrong token: %v", err)
	}
	if _, _, err := bad.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("wrong token post: %v", err)
	}

	// Scripted failures: a rate limit surfaces as RateLimitedError, then the
	// method behaves normally again.
	s.Fail("chat.postMessage", 1, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, `{"ok":false,"error":"ratelimited"}`)
	_, _, err = api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("rate limited post: %v", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatal(err)
	}
	s.Fail("chat.update", 0, http.StatusOK, nil, `{"ok":false,"error":"fatal_error"}`)
	for range 2 {
		if _, _, _, err := api.UpdateMessageContext(ctx, "C1", "1.2", slack.MsgOptionText("x", false)); err == nil || err.Error() != "fatal_error" {
			t.Errorf("scripted update: %v", err)
		}
	}
	// The refused call with the wrong token is recorded too.
	if calls := s.Calls("chat.postMessage"); len(calls) != 3 || calls[0].Token != "xoxb-wrong" || calls[2].Params["text"] != "hi" || calls[2].Token != botToken {
		t.Errorf("calls = %+v", calls)
	}
	if _, err := api.GetTeamInfoContext(ctx); err == nil || err.Error() != "unknown_method" {
		t.Errorf("unknown method: %v", err)
	}
}

func TestMessagesHistoryRepliesReactions(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()

	root := s.AddMessage("C2", map[string]any{"ts": "1700000001.000100", "user": "U1", "text": "photo"})
	s.AddMessage("C2", map[string]any{"ts": "1700000002.000100", "user": "U2", "text": "reply", "thread_ts": root})
	s.AddMessage("C2", map[string]any{"ts": "1700000003.000100", "user": "U1", "text": "later"})

	ts, err := postText(ctx, api, "C2", "answer", root)
	if err != nil {
		t.Fatal(err)
	}
	if ts <= "1700000003.000100" {
		t.Errorf("generated ts %s is not the newest", ts)
	}
	posted := s.Posted("C2")
	if len(posted) != 1 || posted[0].TS != ts || posted[0].ThreadTS != root || posted[0].Text != "answer" {
		t.Fatalf("posted = %+v", posted)
	}

	// History: top-level messages newest first, paginated.
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C2", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Text != "later" || !h.HasMore {
		t.Fatalf("history page 1 = %+v", h)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C2", Cursor: h.ResponseMetaData.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Text != "photo" || h.Messages[0].ReplyCount != 2 || h.HasMore {
		t.Fatalf("history page 2 = %+v", h.Messages)
	}

	// Replies: root then replies, oldest first.
	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C2", Timestamp: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[0].Timestamp != root || msgs[1].Text != "reply" || msgs[2].Text != "answer" || msgs[2].BotID != BotID {
		t.Fatalf("replies = %+v", msgs)
	}

	// Reactions behave like Slack's.
	ref := slack.NewRefToMessage("C2", root)
	if err := api.AddReactionContext(ctx, "eyes", ref); err != nil {
		t.Fatal(err)
	}
	if err := api.AddReactionContext(ctx, "eyes", ref); err == nil || err.Error() != "already_reacted" {
		t.Errorf("second add: %v", err)
	}
	if err := api.RemoveReactionContext(ctx, "eyes", ref); err != nil {
		t.Fatal(err)
	}
	if err := api.RemoveReactionContext(ctx, "eyes", ref); err == nil || err.Error() != "no_reaction" {
		t.Errorf("second remove: %v", err)
	}
	if err := api.AddReactionContext(ctx, "white_check_mark", ref); err != nil {
		t.Fatal(err)
	}
	if c := s.Calls("reactions.add"); len(c) != 3 || c[0].Params["name"] != "eyes" || c[0].Params["channel"] != "C2" || c[0].Params["timestamp"] != root {
		t.Errorf("reactions.add calls = %+v", c)
	}
	if r := s.Reactions("C2", root); len(r) != 1 || r[0] != "white_check_mark" {
		t.Errorf("reactions = %v", r)
	}

	// Update, ephemeral and delete.
	if _, _, _, err := api.UpdateMessageContext(ctx, "C2", ts, slack.MsgOptionText("better answer", false)); err != nil {
		t.Fatal(err)
	}
	if p := s.Posted("C2"); p[0].Text != "better answer" {
		t.Errorf("after update: %+v", p)
	}
	if _, err := api.PostEphemeralContext(ctx, "C2", "U1", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	if e := s.Ephemerals("C2"); len(e) != 1 || e[0].User != "U1" || e[0].Text != "only you" {
		t.Errorf("ephemerals = %+v", e)
	}
	if _, _, err := api.DeleteMessageContext(ctx, "C2", ts); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessageContext(ctx, "C2", ts); err == nil || err.Error() != "message_not_found" {
		t.Errorf("second delete: %v", err)
	}
	if p := s.Posted("C2"); len(p) != 0 {
		t.Errorf("after delete: %+v", p)
	}

	// Membership and unknown channels.
	s.LeaveChannel("C2")
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C2"}); err == nil || err.Error() != "not_in_channel" {
		t.Errorf("history after leave: %v", err)
	}
	if _, err := postText(ctx, api, "C2", "x", ""); err == nil || err.Error() != "not_in_channel" {
		t.Errorf("post after leave: %v", err)
	}
	s.JoinChannel("C2")
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C2"}); err != nil {
		t.Errorf("history after join: %v", err)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "nope"}); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}

	// Block Kit limits.
	long := slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("a", 3001), false, false), nil, nil)
	if _, _, err := api.PostMessageContext(ctx, "C2", slack.MsgOptionBlocks(long)); err == nil || err.Error() != "invalid_blocks" {
		t.Errorf("long section: %v", err)
	}
}

func postText(ctx context.Context, api *slack.Client, ch, text, thread string) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	_, ts, err := api.PostMessageContext(ctx, ch, opts...)
	return ts, err
}

// A post records whether Slack would unfurl its links and media: as its
// arguments say, else by Slack's defaults for an app's message; an edit
// keeps them, and a stream has the defaults.
func TestUnfurlFlags(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	tests := []struct {
		name         string
		opts         []slack.MsgOption
		links, media bool
	}{
		{"defaults", nil, false, true},
		{"both off", []slack.MsgOption{slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()}, false, false},
		{"links on", []slack.MsgOption{slack.MsgOptionEnableLinkUnfurl()}, true, true},
	}
	for _, tt := range tests {
		// One after the other: the cases share one emulator.
		t.Run(tt.name, func(t *testing.T) {
			_, ts, err := api.PostMessageContext(ctx, "C5", append([]slack.MsgOption{slack.MsgOptionText(tt.name, false)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := api.UpdateMessageContext(ctx, "C5", ts, slack.MsgOptionText(tt.name+" edited", false)); err != nil {
				t.Fatal(err)
			}
			for _, p := range s.Posted("C5") {
				if p.TS == ts && (p.UnfurlLinks != tt.links || p.UnfurlMedia != tt.media || p.Text != tt.name+" edited") {
					t.Errorf("posted %+v: unfurl links %v, media %v, want %v, %v", p, p.UnfurlLinks, p.UnfurlMedia, tt.links, tt.media)
				}
			}
		})
	}
	root := s.AddMessage("C6", map[string]any{"user": "U1", "text": "photo"})
	_, ts, err := api.StartStreamContext(ctx, "C6", slack.MsgOptionTS(root), slack.MsgOptionMarkdownText("hi"),
		slack.MsgOptionRecipientUserID("U1"), slack.MsgOptionRecipientTeamID(TeamID))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.StopStreamContext(ctx, "C6", ts); err != nil {
		t.Fatal(err)
	}
	if p := s.Posted("C6"); len(p) != 1 || p[0].UnfurlLinks || !p[0].UnfurlMedia {
		t.Errorf("streamed %+v: want Slack's defaults, media unfurled", p)
	}
}

func TestStreaming(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	root := s.AddMessage("C3", map[string]any{"user": "U1", "text": "photo"})
	_, ts, err := api.StartStreamContext(ctx, "C3", slack.MsgOptionTS(root), slack.MsgOptionMarkdownText("Hel"),
		slack.MsgOptionRecipientUserID("U1"), slack.MsgOptionRecipientTeamID(TeamID))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.AppendStreamContext(ctx, "C3", ts, slack.MsgOptionMarkdownText("lo")); err != nil {
		t.Fatal(err)
	}
	if len(s.Posted("C3")) != 0 {
		t.Error("a stream in progress is not posted yet")
	}
	if _, _, err := api.StopStreamContext(ctx, "C3", ts, slack.MsgOptionMarkdownText(" world")); err != nil {
		t.Fatal(err)
	}
	p := s.Posted("C3")
	if len(p) != 1 || p[0].Text != "Hello world" || !p[0].Streamed || p[0].ThreadTS != root {
		t.Fatalf("posted = %+v", p)
	}
	if _, _, err := api.AppendStreamContext(ctx, "C3", ts, slack.MsgOptionMarkdownText("!")); err == nil || err.Error() != "message_not_in_streaming_state" {
		t.Errorf("append after stop: %v", err)
	}
	for _, m := range []string{"chat.startStream", "chat.appendStream", "chat.stopStream"} {
		if len(s.Calls(m)) == 0 {
			t.Errorf("%s not recorded", m)
		}
	}
}

// A stream belongs to the app, not to the connection or process that
// started it: another client with the bot token stops it, as a replica
// that takes over a request of one that died does. Until then it is open,
// and chat.update refuses it.
func TestStreamTakenOverByAnotherClient(t *testing.T) {
	t.Parallel()

	s, first := newEmu(t)
	ctx := context.Background()
	root := s.AddMessage("C6", map[string]any{"user": "U1", "text": "photo"})
	_, ts, err := first.StartStreamContext(ctx, "C6", slack.MsgOptionTS(root), slack.MsgOptionMarkdownText("Half an"),
		slack.MsgOptionRecipientUserID("U1"), slack.MsgOptionRecipientTeamID(TeamID))
	if err != nil {
		t.Fatal(err)
	}
	if open := s.OpenStreams("C6"); len(open) != 1 || open[0] != ts {
		t.Fatalf("open streams = %v, want [%s]", open, ts)
	}
	second := slack.New(botToken, slack.OptionAPIURL(s.APIURL()))
	edit := func() error {
		_, _, _, err := second.UpdateMessageContext(ctx, "C6", ts, slack.MsgOptionText("Whole", false),
			slack.MsgOptionBlocks(slack.NewMarkdownBlock("", "The whole answer")))
		return err
	}
	if err := edit(); slackCode(err) != "cant_update_message" {
		t.Errorf("update of a live stream: %v, want cant_update_message", err)
	}
	if _, _, err := second.StopStreamContext(ctx, "C6", ts); err != nil {
		t.Fatalf("stop by another client: %v", err)
	}
	if open := s.OpenStreams("C6"); len(open) != 0 {
		t.Errorf("open streams after the stop = %v", open)
	}
	if err := edit(); err != nil {
		t.Fatalf("update of the stopped stream: %v", err)
	}
	if p := s.Posted("C6"); len(p) != 1 || p[0].Markdown() != "The whole answer" {
		t.Errorf("posted = %+v", p)
	}
}

func TestStreamWithoutRecipient(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, channel string
		opts          []slack.MsgOption
		kept          bool
	}{
		{"channel without recipient", "C4", nil, false},
		{"channel with user only", "C4", []slack.MsgOption{slack.MsgOptionRecipientUserID("U1")}, false},
		{"channel with recipient", "C4", []slack.MsgOption{slack.MsgOptionRecipientUserID("U1"), slack.MsgOptionRecipientTeamID(TeamID)}, true},
		{"DM", "D4", nil, true},
	} {
		// One after the other: the cases share one emulator.
		t.Run(tc.name, func(t *testing.T) {
			root := s.AddMessage(tc.channel, map[string]any{"user": "U1", "text": "photo"})
			opts := append([]slack.MsgOption{slack.MsgOptionTS(root), slack.MsgOptionMarkdownText("Hi")}, tc.opts...)
			_, ts, err := api.StartStreamContext(ctx, tc.channel, opts...)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if _, _, err := api.AppendStreamContext(ctx, tc.channel, ts, slack.MsgOptionMarkdownText(" there")); err != nil {
				t.Fatalf("append: %v", err)
			}
			if _, _, err := api.StopStreamContext(ctx, tc.channel, ts); err != nil {
				t.Fatalf("stop: %v", err)
			}
			got := s.Message(tc.channel, ts)
			if kept := got != nil; kept != tc.kept {
				t.Fatalf("message kept after stop = %v, want %v (%v)", kept, tc.kept, got)
			}
			if tc.kept && got["text"] != "Hi there" {
				t.Errorf("text = %q", got["text"])
			}
		})
	}
}

func TestStreamTTL(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	root := s.AddMessage("D5", map[string]any{"user": "U1", "text": "photo"})
	_, ts, err := api.StartStreamContext(ctx, "D5", slack.MsgOptionTS(root), slack.MsgOptionMarkdownText("Hel"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.AppendStreamContext(ctx, "D5", ts, slack.MsgOptionMarkdownText("lo")); err != nil {
		t.Fatal(err)
	}
	if len(s.Posted("D5")) != 0 {
		t.Fatal("a live stream is not posted yet")
	}

	// Every stream open now is older than the new TTL.
	s.SetStreamTTL(time.Nanosecond)
	for name, call := range map[string]func() error{
		"append": func() error {
			_, _, err := api.AppendStreamContext(ctx, "D5", ts, slack.MsgOptionMarkdownText("!"))
			return err
		},
		"stop": func() error {
			_, _, err := api.StopStreamContext(ctx, "D5", ts, slack.MsgOptionMarkdownText("!"))
			return err
		},
	} {
		if err := call(); slackCode(err) != "message_not_in_streaming_state" {
			t.Errorf("%s after the TTL: %v", name, err)
		}
	}
	p := s.Posted("D5")
	if len(p) != 1 || p[0].Text != "Hello" || p[0].Markdown() != "Hello" {
		t.Fatalf("expired stream = %+v, want it posted with the text it had", p)
	}
	_, _, _, err = api.UpdateMessageContext(ctx, "D5", ts, slack.MsgOptionText("Hello", false),
		slack.MsgOptionBlocks(slack.NewMarkdownBlock("", "Hello, world")))
	if err != nil {
		t.Fatalf("update of an expired stream: %v", err)
	}
	if p := s.Posted("D5"); len(p) != 1 || p[0].Markdown() != "Hello, world" {
		t.Errorf("after update = %+v", p)
	}
}

func slackCode(err error) string {
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) {
		return resp.Err
	}
	return ""
}

func TestFiles(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	// Small images keep -race fast; the dimensions come from the PNG headers.
	img, thumb := MakePNG(120, 40), MakePNG(102, 34)
	f := s.AddFile(FileSpec{Name: "photo.png", Data: img, Thumbs: map[int][]byte{64: MakePNG(6, 6), 360: thumb}})
	if f["mimetype"] != "image/png" || f["filetype"] != "png" || f["original_w"] != 120 || f["original_h"] != 40 ||
		f["thumb_360_w"] != 102 || f["thumb_360_h"] != 34 || !strings.HasSuffix(f["thumb_360"].(string), "/photo_360.png") {
		t.Fatalf("file object = %v", f)
	}
	if _, ok := f["thumb_64_w"]; ok {
		t.Error("thumb_64 has no dimensions on Slack")
	}
	// No thumbnail larger than the original; missing ones are scaled.
	big := s.AddFile(FileSpec{Name: "big.jpg", Data: []byte("jpeg"), OriginalW: 1200, OriginalH: 400,
		Thumbs: map[int][]byte{1024: []byte("t1024"), 2048: []byte("t2048")}})
	if big["thumb_1024_w"] != 1024 || big["thumb_1024_h"] != 341 || big["thumb_2048"] != nil || big["mimetype"] != "image/jpeg" {
		t.Errorf("big file object = %v", big)
	}

	// With the token: the bytes.
	var buf bytes.Buffer
	if err := api.GetFileContext(ctx, f["url_private_download"].(string), &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), img) {
		t.Error("downloaded bytes differ")
	}
	buf.Reset()
	if err := api.GetFileContext(ctx, f["thumb_360"].(string), &buf); err != nil || !bytes.Equal(buf.Bytes(), thumb) {
		t.Errorf("thumb download: %v", err)
	}

	// Without it: the HTML sign-in page with status 200.
	get := func(u, auth string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get(f["url_private"].(string), "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.HasPrefix(body, []byte("<!DOCTYPE html>")) {
		t.Errorf("no token: %d %s %.40q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if _, body = get(f["url_private"].(string), "Bearer xoxb-other"); !bytes.HasPrefix(body, []byte("<!DOCTYPE html>")) {
		t.Error("wrong token got the file")
	}
	s.DenyFiles(true)
	buf.Reset()
	if err := api.GetFileContext(ctx, f["url_private"].(string), &buf); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("<!DOCTYPE html>")) {
		t.Errorf("denied: %v %.40q", err, buf.Bytes())
	}
	// The redirect form is what slack-go recognises as a refused download.
	s.SetSignInRedirect(true)
	if err := api.GetFileContext(ctx, f["url_private"].(string), io.Discard); err == nil || !strings.Contains(err.Error(), "sign-in") {
		t.Errorf("redirected: %v", err)
	}
	d := s.Downloads()
	if len(d) != 6 || d[0].Auth != "Bearer "+botToken || d[2].Auth != "" || !strings.HasPrefix(d[0].Path, "/files-pri/T1-") {
		t.Errorf("downloads = %+v", d)
	}

	// Slack Connect stub: the full object comes from files.info.
	stub := s.AddFile(FileSpec{ID: "FSTUB", Name: "x.jpg", Data: []byte("jpeg"), Access: "check_file_info"})
	if stub["file_access"] != "check_file_info" || stub["url_private"] != nil {
		t.Errorf("stub = %v", stub)
	}
	info, _, _, err := api.GetFileInfoContext(ctx, "FSTUB", 0, 0)
	if err != nil || info.Mimetype != "image/jpeg" || !strings.HasPrefix(info.URLPrivateDownload, s.URL()) {
		t.Errorf("files.info = %+v, %v", info, err)
	}
	if _, _, _, err := api.GetFileInfoContext(ctx, "FNOPE", 0, 0); err == nil || err.Error() != "file_not_found" {
		t.Errorf("unknown file: %v", err)
	}

	// The emulator's file object decodes into slack.File.
	var sf slack.File
	b, _ := json.Marshal(f)
	if err := json.Unmarshal(b, &sf); err != nil || sf.Thumb360 == "" || sf.OriginalW != 120 {
		t.Errorf("slack.File = %+v, %v", sf, err)
	}
}

// files.info says where a file is shared, as Slack's file object does:
// the conversations whose messages carry it, in channels, groups or ims by
// kind, and under shares.public or shares.private, keyed by conversation,
// with the messages that share it. The real slack-go client reads it.
func TestFileInfoSaysWhereAFileIsShared(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	f := s.AddFile(FileSpec{Name: "lunch.png", Data: MakePNG(8, 8)})
	id := f["id"].(string)
	lonely := s.AddFile(FileSpec{Name: "upload.png", Data: MakePNG(8, 8)})

	info, _, _, err := api.GetFileInfoContext(ctx, id, 0, 0)
	if err != nil || len(info.Channels)+len(info.Groups)+len(info.IMs) != 0 || info.Shares.Public != nil || info.Shares.Private != nil {
		t.Fatalf("a file in no message: %+v %+v, %v", info.Channels, info.Shares, err)
	}

	root := s.AddMessage("C1", map[string]any{"user": "U1", "text": "lunch", "files": []any{f}})
	reply := s.AddMessage("G2", map[string]any{"user": "U1", "text": "again", "thread_ts": "1700000000.000050", "files": []any{f}})
	s.AddMessage("D3", map[string]any{"user": "U1", "files": []any{f}})
	s.AddMessage("C4", map[string]any{"user": "U1", "text": "no file here"})

	info, _, _, err = api.GetFileInfoContext(ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Channels, []string{"C1"}) || !slices.Equal(info.Groups, []string{"G2"}) || !slices.Equal(info.IMs, []string{"D3"}) {
		t.Errorf("channels %v, groups %v, ims %v; want C1, G2, D3", info.Channels, info.Groups, info.IMs)
	}
	pub, priv := info.Shares.Public, info.Shares.Private
	if len(pub) != 1 || len(pub["C1"]) != 1 || pub["C1"][0].Ts != root || pub["C1"][0].ThreadTs != "" || pub["C1"][0].TeamID != TeamID {
		t.Errorf("shares.public = %+v", pub)
	}
	if len(priv) != 2 || len(priv["G2"]) != 1 || priv["G2"][0].Ts != reply || priv["G2"][0].ThreadTs != "1700000000.000050" || len(priv["D3"]) != 1 {
		t.Errorf("shares.private = %+v", priv)
	}

	// The bot deleting its message takes the share with it.
	_, posted, err := api.PostMessageContext(ctx, "C5", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.find("C5", posted).fields["files"] = []any{f}
	s.mu.Unlock()
	if info, _, _, _ = api.GetFileInfoContext(ctx, id, 0, 0); !slices.Contains(info.Channels, "C5") {
		t.Errorf("channels %v lack C5", info.Channels)
	}
	if _, _, err := api.DeleteMessageContext(ctx, "C5", posted); err != nil {
		t.Fatal(err)
	}
	if info, _, _, _ = api.GetFileInfoContext(ctx, id, 0, 0); slices.Contains(info.Channels, "C5") || info.Shares.Public["C5"] != nil {
		t.Errorf("a deleted message still shares the file: %v %+v", info.Channels, info.Shares.Public)
	}

	// Another file is shared nowhere; its empty lists are lists.
	s.mu.Lock()
	raw := s.fileInfo(&apiReq{call: Call{Params: map[string]string{"file": lonely["id"].(string)}}}).(map[string]any)["file"].(map[string]any)
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"channels": raw["channels"], "groups": raw["groups"], "ims": raw["ims"], "shares": raw["shares"]})
	if string(b) != `{"channels":[],"groups":[],"ims":[],"shares":{}}` {
		t.Errorf("a file shared nowhere: %s", b)
	}
}

func TestForeignAndLatency(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	fh := NewForeign()
	defer fh.Close()
	req, _ := http.NewRequest(http.MethodGet, fh.URL()+"img.png", nil)
	req.Header.Set("Authorization", "Bearer xoxb-leak")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := fh.Requests(); len(r) != 1 || r[0].Auth != "Bearer xoxb-leak" || r[0].Path != "/img.png" {
		t.Errorf("foreign requests = %+v", r)
	}
	// slack-go itself refuses to send the token there.
	if err := api.GetFile(fh.URL()+"img.png", io.Discard); err == nil {
		t.Error("slack-go downloaded from a foreign host")
	}

	s.SetLatency(100 * time.Millisecond)
	start := time.Now()
	if _, err := api.AuthTest(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("latency not applied: %v", d)
	}
}

// Slack gives each envelope to one connection; SetDeliverToAll gives it to
// every one, as to replicas that all got it. RetryEvent marks a retry.
func TestDeliverToAllAndRetries(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	first := runSocketMode(t, api)
	if err := s.WaitConnects(1, wait); err != nil {
		t.Fatal(err)
	}
	second := runSocketMode(t, api)
	if err := s.WaitConnects(2, wait); err != nil {
		t.Fatal(err)
	}
	inner := fixture(t, "events/app_mention_with_files.slack-go.json")
	receive := func(events <-chan socketmode.Event) *socketmode.Request {
		t.Helper()
		select {
		case evt := <-events:
			return evt.Request
		case <-time.After(wait):
			return nil
		}
	}

	tests := []struct {
		name        string
		all         bool
		attempt     int
		wantFirst   bool // the older connection gets it too
		wantAttempt int
	}{
		{"one connection by default: the newest", false, 0, false, 0},
		{"every connection with SetDeliverToAll", true, 0, true, 0},
		{"a retry carries retry_attempt and its reason", true, 1, true, 1},
	}
	for _, tt := range tests {
		// One after the other: the cases share one emulator.
		t.Run(tt.name, func(t *testing.T) {
			s.SetDeliverToAll(tt.all)
			env, err := s.RetryEvent(inner, "EvSAME", tt.attempt)
			if err != nil {
				t.Fatal(err)
			}
			got := receive(second)
			if got == nil || got.EnvelopeID != env || got.RetryAttempt != tt.wantAttempt {
				t.Fatalf("newest connection got %+v, want envelope %s with retry_attempt %d", got, env, tt.wantAttempt)
			}
			if tt.attempt > 0 && got.RetryReason != "timeout" {
				t.Errorf("retry_reason = %q", got.RetryReason)
			}
			if !tt.wantFirst {
				select {
				case evt := <-first:
					t.Errorf("the older connection got %+v too", evt.Request)
				default: // and should it come late, the next case reads it instead of its own envelope and fails
				}
				return
			}
			if got := receive(first); got == nil || got.EnvelopeID != env {
				t.Fatalf("older connection got %+v, want envelope %s", got, env)
			}
			if err := s.WaitAcks(env, 2, wait); err != nil {
				t.Fatalf("the envelope was not acked by both connections: %v", err)
			}
		})
	}
}

// The agent platform's methods, through slack-go, with what Slack checks:
// the loading status, the session's lifecycle, suggested prompts, the Stop
// button's event, and context_actions blocks.
func TestAgentPlatform(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	root := s.AddMessage("C4", map[string]any{"user": "U1", "text": "photo"})

	if err := api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: "C4", ThreadTS: root, Status: "is looking…", LoadingMessages: []string{"Reading the recipe card…", "Weighing the flour…"},
	}); err != nil {
		t.Fatal(err)
	}
	if st := s.ThreadStatusOf("C4", root); st.Status != "is looking…" || len(st.Loading) != 2 {
		t.Errorf("status = %+v", st)
	}
	tooMany := make([]string, 11)
	for i := range tooMany {
		tooMany[i] = "Loading"
	}
	if err := api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: "C4", ThreadTS: root, Status: "x", LoadingMessages: tooMany}); err == nil {
		t.Error("11 loading messages were taken")
	}
	if _, _, err := api.PostMessageContext(ctx, "C4", slack.MsgOptionTS(root), slack.MsgOptionText("done", false)); err != nil {
		t.Fatal(err)
	}
	if st := s.ThreadStatusOf("C4", root); st.Status != "" {
		t.Errorf("a reply in the thread left the status %q", st.Status)
	}

	if _, err := api.SetAgentSessionStatusContext(ctx, slack.AgentSessionSetStatusParameters{Status: "thinking", ChannelID: "C4", ThreadTS: root}); err == nil {
		t.Error("an unknown session status was taken")
	}
	if _, err := api.SetAgentSessionStatusContext(ctx, slack.AgentSessionSetStatusParameters{Status: "processing", ChannelID: "C4", ThreadTS: root}); err != nil {
		t.Fatal(err)
	}
	_, stream, err := api.StartStreamContext(ctx, "C4", slack.MsgOptionTS(root), slack.MsgOptionMarkdownText("Half"),
		slack.MsgOptionRecipientUserID("U1"), slack.MsgOptionRecipientTeamID(TeamID))
	if err != nil {
		t.Fatal(err)
	}
	stopped := s.StopStreams("C4", root)
	if len(stopped) != 1 || stopped[0] != stream {
		t.Errorf("Stop stopped %v, want the open stream %s", stopped, stream)
	}
	if _, _, err := api.AppendStreamContext(ctx, "C4", stream, slack.MsgOptionMarkdownText(" more")); err == nil || err.Error() != "message_not_in_streaming_state" {
		t.Errorf("an append after Stop: %v", err)
	}
	if got := s.SessionStatuses("C4", root); len(got) != 1 || got[0] != "processing" {
		t.Errorf("the session is %v: Slack leaves it to the app", got)
	}

	prompts := slack.AssistantThreadsSetSuggestedPromptsParameters{ChannelID: "D4", Title: "Try"}
	prompts.AddPrompt("Turn a food photo into a recipe", "recipe")
	if err := api.SetAssistantThreadsSuggestedPromptsContext(ctx, prompts); err != nil {
		t.Fatal(err)
	}
	if got := s.SuggestedPromptsOf("D4"); got.Title != "Try" || len(got.Prompts) != 1 || got.Prompts[0].Message != "recipe" {
		t.Errorf("prompts = %+v", got)
	}
	for range 4 {
		prompts.AddPrompt("more", "more")
	}
	if err := api.SetAssistantThreadsSuggestedPromptsContext(ctx, prompts); err == nil {
		t.Error("5 prompts were taken")
	}

	feedback := slack.NewContextActionsBlock("b1", slack.NewFeedbackButtonsBlockElement("fb",
		slack.NewFeedbackButton(slack.NewTextBlockObject(slack.PlainTextType, "👍", false, false), "up"),
		slack.NewFeedbackButton(slack.NewTextBlockObject(slack.PlainTextType, "👎", false, false), "")))
	if _, _, err := api.PostMessageContext(ctx, "C4", slack.MsgOptionBlocks(feedback)); err == nil || err.Error() != "invalid_blocks" {
		t.Errorf("a feedback button without a value: %v", err)
	}
	twice := []slack.Block{slack.NewDividerBlock(), slack.NewDividerBlock()}
	twice[0].(*slack.DividerBlock).BlockID, twice[1].(*slack.DividerBlock).BlockID = "same", "same"
	if _, _, err := api.PostMessageContext(ctx, "C4", slack.MsgOptionBlocks(twice...)); err == nil {
		t.Error("two blocks with one block_id were taken")
	}

	if u, err := api.GetUserInfoContext(ctx, "U9"); err != nil || u.TeamID != TeamID {
		t.Errorf("users.info = %+v, %v", u, err)
	}
	s.SetUserTeam("U9", "T9")
	if u, err := api.GetUserInfoContext(ctx, "U9"); err != nil || u.TeamID != "T9" {
		t.Errorf("users.info of a Slack Connect user = %+v, %v", u, err)
	}
}
