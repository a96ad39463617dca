package bot

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack/socketmode"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
)

// fixtureFrame reads a Slack fixture as the Socket Mode frame that would
// carry it, applies edit to its payload (the inner event of an Events API
// payload), and parses it as slack-go does.
func fixtureFrame(t *testing.T, rel string, edit func(map[string]any)) socketmode.Event {
	t.Helper()
	body := slackFixture(t, rel)
	frame := body
	if !strings.HasPrefix(rel, "socketmode/") { // a payload without its frame
		kind := "interactive"
		if strings.HasPrefix(rel, "events/") {
			kind = "events_api"
			if _, wrapped := body["event"]; !wrapped { // a bare inner event
				body = map[string]any{"type": "event_callback", "event_id": "EvBARE", "team_id": "T1", "event": body}
			}
		}
		frame = map[string]any{"envelope_id": "env-" + filepath.Base(rel), "type": kind, "payload": body}
	}
	if edit != nil {
		payload := frame["payload"].(map[string]any)
		if ev, ok := payload["event"].(map[string]any); ok {
			edit(ev)
		} else {
			edit(payload)
		}
	}
	raw, err := json.Marshal(frame)
	if err != nil {
		t.Fatal(err)
	}
	return socketEvent(raw)
}

// describe sums a decoded envelope up in one line, for the table below.
func describe(d decoded) string {
	if d.ignored != "" {
		return "ignored: " + d.ignored
	}
	if d.stop != nil {
		return "stop " + d.stop.channel + "/" + d.stop.thread + " by " + d.stop.user + " in " + d.stop.workspace +
			" | seen " + strings.Join(d.seen, ",")
	}
	o := d.req.Origin
	s := fmt.Sprintf("%s channel=%s thread=%s message=%s user=%s team=%s", o.Trigger, o.Channel, o.Thread, o.Message, o.User, o.Team)
	if o.ResponseURL != "" {
		s += " private"
	}
	if o.TriggerID != "" {
		s += " trigger=" + o.TriggerID
	}
	switch ask := d.req.Ask.(type) {
	case handlers.Said:
		s += fmt.Sprintf(" | said %q, %d files", ask.Text, len(ask.Files))
	case handlers.Command:
		s += fmt.Sprintf(" | command %q", ask.Text)
	case handlers.ShortcutOn:
		s += fmt.Sprintf(" | shortcut on %s, %d files", ask.Message.TS, len(ask.Message.Files))
	case handlers.Submission:
		s += fmt.Sprintf(" | submitted %s %q, %d uploads, files %v", ask.UseCase, ask.Question, len(ask.Uploads), ask.Files)
	case handlers.Rerun:
		s += fmt.Sprintf(" | rerun %s of %s %v", ask.UseCase, ask.Ref.UseCase, ask.Ref.Files)
	case handlers.Vote:
		s += fmt.Sprintf(" | vote up=%v on %s", ask.Up, ask.Ref.UseCase)
	case handlers.Reacted:
		s += fmt.Sprintf(" | reacted %s for %s", ask.Emoji, ask.UseCase)
	case handlers.HomeOpened:
		s += " | home"
	case handlers.MessagesOpened:
		s += " | messages tab"
	case handlers.Viewing:
		s += fmt.Sprintf(" | viewing %s/%s", ask.Channel, ask.TS)
	case handlers.WhatWasWrong:
		s += fmt.Sprintf(" | what was wrong with %s: %q", ask.Ref.UseCase, ask.Text)
	case handlers.SettingsAsked:
		s += " | settings asked"
	case handlers.SettingsSaved:
		v := ask.Values
		s += fmt.Sprintf(" | settings saved default=%s use_cases=%v brief=%q reactions=%v, opened with %s",
			*v.Default, *v.UseCases, *v.Brief, *v.Reactions, ask.Opened.Default)
	}
	return s + " | seen " + strings.Join(d.seen, ",")
}

// decodeCase is an envelope, a fixture with an edit of its payload, and
// what it decodes to, summed up by describe.
type decodeCase struct {
	name    string
	fixture string
	edit    func(map[string]any)
	want    string
}

// decodeCases are real payloads of ../shared/fixtures (a copy lives in
// internal/fixtures/data), one or more of every kind the bot takes, with
// what each decodes to: TestDecode checks them, and
// TestQueuedRequestsRoundTrip sends the requests they make through the
// shared queue.
func decodeCases() []decodeCase {
	set := func(kv ...any) func(map[string]any) {
		return func(m map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
					continue
				}
				m[kv[i].(string)] = kv[i+1]
			}
		}
	}
	ref := blocks.EncodeRef(handlers.AnswerRef{UseCase: "recipe", Files: []string{"F1", "F2"}})
	form := handlers.FormTarget{Channel: "C1", Thread: "1.000100", Message: "1.000200", Files: []string{"F1"}, ResponseURL: "https://hooks.slack.com/r"}
	settings := handlers.SettingsTarget{Channel: "C1", ResponseURL: "https://hooks.slack.com/r", Opened: handlers.SettingsOpened{Default: "describe"}}
	settingsView := func(brief string) map[string]any {
		option := func(v string) map[string]any { return map[string]any{"value": v} }
		input := func(id string, v map[string]any) map[string]any { return map[string]any{id: v} }
		return map[string]any{"id": "V9", "type": "modal", "callback_id": blocks.CallbackSettings, "private_metadata": settings.Encode(),
			"state": map[string]any{"values": map[string]any{
				"setting_default":   input("setting_default", map[string]any{"type": "static_select", "selected_option": option("recipe")}),
				"setting_use_cases": input("setting_use_cases", map[string]any{"type": "multi_static_select", "selected_options": []any{option("recipe"), option("code")}}),
				"setting_brief":     input("setting_brief", map[string]any{"type": "plain_text_input", "value": brief}),
				"setting_reactions": input("setting_reactions", map[string]any{"type": "radio_buttons", "selected_option": option("off")}),
			}}}
	}
	return []decodeCase{
		// Mentions.
		{"a mention: the author's team is the event's team field, not the envelope's",
			"socketmode/events_api_app_mention.python-slack-sdk.json", nil,
			`mention channel=C111 thread=1610241741.000200 message=1610241741.000200 user=U222 team=T111 | said "<@U111>", 0 files | seen event:Ev111,message:C111:1610241741.000200`},
		{"a mention in a thread answers in that thread, without the bot's own mention",
			"socketmode/events_api_app_mention.python-slack-sdk.json", set("thread_ts", "1610241700.000100", "text", "<@UBOT> recipe please"),
			`mention channel=C111 thread=1610241700.000100 message=1610241741.000200 user=U222 team=T111 | said "recipe please", 0 files | seen event:Ev111,message:C111:1610241741.000200`},
		{"a Slack Connect author's user_team wins",
			"socketmode/events_api_app_mention.python-slack-sdk.json", set("user_team", "T999"),
			`mention channel=C111 thread=1610241741.000200 message=1610241741.000200 user=U222 team=T999 | said "<@U111>", 0 files | seen event:Ev111,message:C111:1610241741.000200`},
		{"with no team in the event, the team is left to look up",
			"socketmode/events_api_app_mention.slack-go.json", set("channel", "C1", "user", "U1", "team", nil),
			`mention channel=C1 thread=1610927831.000200 message=1610927831.000200 user=U1 team= | said "<@U01JKSB8T7Y> test", 0 files | seen event:Ev01JZ2T7S3U,message:C1:1610927831.000200`},
		{"a mention with files, by a person", "events/app_mention_with_files.slack-go.json", set("bot_id", nil),
			`mention channel=C0LAN2Q65 thread=1628259917.003000 message=1628259917.003000 user=U061F7AUR team= | said "<@U0LAN0Z89> check this file", 1 files | seen event:EvBARE,message:C0LAN2Q65:1628259917.003000`},
		{"a mention by a bot", "events/app_mention_with_files.slack-go.json", nil, "ignored: a mention by a bot"},
		{"a mention by the bot itself", "socketmode/events_api_app_mention.slack-go.json", set("user", "UBOT"),
			"ignored: a mention by no one, or by the bot itself"},
		{"an edited mention", "socketmode/events_api_app_mention.slack-go.json", set("edited", map[string]any{"user": "U1", "ts": "1.0"}),
			"ignored: an edited mention: it was answered when it was new"},
		// DMs and other messages.
		{"a DM", "events/message_im.slack-web.json", nil,
			`dm channel=D0442US94JD thread=1664408649.009629 message=1664408649.009629 user=U043H11ES4V team=T043DB835ML | said "test", 0 files | seen event:Ev044C51K43V,message:D0442US94JD:1664408649.009629`},
		{"a message in a channel reaches the bot as a mention, not as this", "events/message_file_share_png.bolt-python.json", nil,
			"ignored: a message outside a DM: channel messages reach the bot as mentions"},
		{"an edit", "events/message_changed.slack-web.json", set("channel_type", "im"), "ignored: not a person's new message: message_changed"},
		{"another bot's post", "events/bot_message.slack-web.json", set("channel_type", "im"), "ignored: not a person's new message: bot_message"},
		{"the bot's own post without a subtype", "events/message_from_own_bot_no_subtype.slack-web.json", set("channel_type", "im"),
			"ignored: a bot's message"},
		// Reactions: the event names no team at all.
		{"a trigger emoji", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "reaction_added", "user", "U1", "reaction", "fork_and_knife::skin-tone-2", "item_user", "U2",
				"item", map[string]any{"type": "message", "channel": "C1", "ts": "1.000100"}, "event_ts", "2.0")(m)
		}, `reaction channel=C1 thread=1.000100 message=1.000100 user=U1 team= | reacted fork_and_knife::skin-tone-2 for recipe | seen event:Ev044C51K43V,reaction:C1:1.000100:recipe`},
		{"another emoji", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "reaction_added", "user", "U1", "reaction", "tada", "item", map[string]any{"type": "message", "channel": "C1", "ts": "1.0"})(m)
		}, "ignored: not a trigger emoji"},
		{"the Home tab", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "app_home_opened", "user", "U1", "channel", "D1", "tab", "home")(m)
		}, "home channel= thread= message= user=U1 team= | home | seen "},
		{"the Messages tab", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "app_home_opened", "user", "U1", "channel", "D1", "tab", "messages")(m)
		}, "messages channel=D1 thread= message= user=U1 team= | messages tab | seen "},
		{"another tab", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "app_home_opened", "user", "U1", "channel", "D1", "tab", "about")(m)
		}, "ignored: an app tab the bot shows nothing in: about"},
		// The agent surface.
		{"Stop in a thread", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "agent_session_stopped", "user", "U1", "channel", "C1", "thread_ts", "1.000100",
				"streaming_message_ts", []any{"1.000200"}, "event_ts", "1.000300")(m)
		}, "stop C1/1.000100 by U1 in T043DB835ML | seen event:Ev044C51K43V"},
		{"Stop by no one", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "agent_session_stopped", "channel", "C1", "thread_ts", "1.000100", "event_ts", "1.000300")(m)
		}, "ignored: a Stop by no one, or by the bot itself"},
		{"Stop without a thread", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "agent_session_stopped", "user", "U1", "channel", "C1", "event_ts", "1.000300")(m)
		}, "ignored: a Stop that names no thread"},
		{"looking at a message", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "app_context_changed", "user", "U1", "channel", "D1", "event_ts", "1.000300",
				"context", map[string]any{"entities": []any{
					map[string]any{"type": "slack#/types/channel_id", "value": "C7"},
					map[string]any{"type": "slack#/types/message_context", "value": map[string]any{"channel_id": "C7", "message_ts": "7.000100"}},
				}})(m)
		}, "messages channel=D1 thread= message= user=U1 team= | viewing C7/7.000100 | seen event:Ev044C51K43V"},
		{"looking at a channel only", "events/message_im.slack-web.json", func(m map[string]any) {
			clear(m)
			set("type", "app_context_changed", "user", "U1", "channel", "D1", "event_ts", "1.000300",
				"context", map[string]any{"entities": []any{map[string]any{"type": "slack#/types/channel_id", "value": "C7"}}})(m)
		}, "messages channel=D1 thread= message= user=U1 team= | viewing / | seen event:Ev044C51K43V"},
		// Slash commands: team_id is the workspace it was typed in.
		{"a slash command", "socketmode/slash_commands.slack-go.json", nil,
			`slash channel=C9876543210 thread= message= user=U2345678901 team= private trigger=13345224609.738474920 | command "Fix login" | seen envelope:command-envelope`},
		{"/analyze settings", "socketmode/slash_commands.slack-go.json", set("text", " Settings "),
			`settings channel=C9876543210 thread= message= user=U2345678901 team= private trigger=13345224609.738474920 | settings asked | seen envelope:command-envelope`},
		// Interactions.
		{"the message shortcut", "interactive/message_action.bolt-python.json", set("callback_id", blocks.CallbackShortcut),
			"shortcut channel=C111 thread= message= user=W111 team= private trigger=111.222.xxx | shortcut on 1583636382.000300, 0 files | seen envelope:env-message_action.bolt-python.json"},
		{"another app's shortcut", "interactive/message_action.bolt-python.json", nil, "ignored: a shortcut the bot does not have: test-shortcut"},
		{"a global shortcut", "socketmode/interactive_global_shortcut.python-slack-sdk.json", nil, "ignored: an interaction the bot does not handle: shortcut"},
		{"a submitted form: where it goes comes from its metadata", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "view_submission", "user", map[string]any{"id": "U1", "team_id": "T1"},
				"view", map[string]any{"id": "V1", "type": "modal", "callback_id": blocks.CallbackAnalyze, "private_metadata": form.Encode(),
					"state": map[string]any{"values": map[string]any{
						blocks.InputUseCase:  map[string]any{blocks.InputUseCase: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "nutrition"}}},
						blocks.InputQuestion: map[string]any{blocks.InputQuestion: map[string]any{"type": "plain_text_input", "value": "per 100 g"}},
					}}})(p)
		}, `form channel=C1 thread=1.000100 message=1.000200 user=U1 team=T1 private | submitted nutrition "per 100 g", 0 uploads, files [F1] | seen envelope:env-message_action.bolt-python.json`},
		{"a form whose metadata isn't ours", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "view_submission", "user", map[string]any{"id": "U1"},
				"view", map[string]any{"id": "V1", "type": "modal", "callback_id": blocks.CallbackAnalyze, "private_metadata": "{"})(p)
		}, "ignored: a modal whose metadata can't be read"},
		{"the settings modal saved: its channel and route back come from its metadata, and a view is saved once",
			"interactive/message_action.bolt-python.json", func(p map[string]any) {
				clear(p)
				set("type", "view_submission", "user", map[string]any{"id": "U1", "team_id": "T1"}, "view", settingsView("Kitchen."))(p)
			}, `settings channel=C1 thread= message= user=U1 team=T1 private | settings saved default=recipe use_cases=[recipe code] brief="Kitchen." reactions=false, opened with describe | seen settings-view:V9,envelope:env-message_action.bolt-python.json`},
		{"the settings modal with a mistake: it was answered in the modal", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "view_submission", "user", map[string]any{"id": "U1", "team_id": "T1"}, "view", settingsView(strings.Repeat("x", handlers.MaxBrief+1)))(p)
		}, "ignored: a settings modal with mistakes: they were shown in the modal"},
		{"Try another use case", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "block_actions", "user", map[string]any{"id": "U1", "team_id": "T1"}, "response_url", "https://hooks.slack.com/r",
				"container", map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1.000300", "thread_ts": "1.000100"},
				"actions", []any{map[string]any{"type": "static_select", "action_id": blocks.ActionRerun, "block_id": ref,
					"selected_option": map[string]any{"value": "nutrition"}}})(p)
		}, "rerun channel=C1 thread=1.000100 message= user=U1 team=T1 private | rerun nutrition of recipe [F1 F2] | seen envelope:env-message_action.bolt-python.json"},
		{"a vote", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "block_actions", "user", map[string]any{"id": "U1", "team_id": "T1"},
				"container", map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1.000300"},
				"actions", []any{map[string]any{"type": "button", "action_id": blocks.ActionFeedbackDown, "block_id": ref, "value": "down"}})(p)
		}, "feedback channel=C1 thread=1.000300 message=1.000300 user=U1 team=T1 | vote up=false on recipe | seen envelope:env-message_action.bolt-python.json"},
		{"a vote on the native buttons", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "block_actions", "user", map[string]any{"id": "U1", "team_id": "T1"},
				"container", map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1.000300", "thread_ts": "1.000100"},
				"actions", []any{map[string]any{"type": "feedback_buttons", "action_id": blocks.ActionFeedback, "block_id": ref, "value": "up",
					"text": map[string]any{"type": "plain_text", "text": "👍"}}})(p)
		}, "feedback channel=C1 thread=1.000100 message=1.000300 user=U1 team=T1 | vote up=true on recipe | seen envelope:env-message_action.bolt-python.json"},
		{"a native button of unknown value", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "block_actions", "user", map[string]any{"id": "U1", "team_id": "T1"},
				"actions", []any{map[string]any{"type": "feedback_buttons", "action_id": blocks.ActionFeedback, "block_id": ref, "value": "meh"}})(p)
		}, "ignored: no action of the bot's"},
		{"what was wrong, in a private follow-up: the thread comes from the footer", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "block_actions", "user", map[string]any{"id": "U1", "team_id": "T1"}, "response_url", "https://hooks.slack.com/r",
				"container", map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1.000900", "is_ephemeral": true},
				"actions", []any{map[string]any{"type": "plain_text_input", "action_id": blocks.ActionWhatWasWrong,
					"block_id": blocks.EncodeRef(handlers.AnswerRef{Thread: "1.000100", UseCase: "recipe"}), "value": "it was soup, not pasta"}})(p)
		}, `feedback channel=C1 thread=1.000100 message= user=U1 team=T1 private | what was wrong with recipe: "it was soup, not pasta" | seen envelope:env-message_action.bolt-python.json`},
		{"a click outside the bot's footer", "interactive/message_action.bolt-python.json", func(p map[string]any) {
			clear(p)
			set("type", "block_actions", "user", map[string]any{"id": "U1"},
				"actions", []any{map[string]any{"type": "button", "action_id": blocks.ActionFeedbackUp, "block_id": "abc"}})(p)
		}, "ignored: no action of the bot's"},
		// Frames that ask nothing.
		{"hello", "socketmode/hello.slack-go.json", nil, "ignored: not a request envelope: hello"},
		{"a disconnect warning", "socketmode/disconnect_warning.slack-go.json", nil, "ignored: not a request envelope: disconnect"},
	}
}

// testDecoder is the decoder of the bot decodeCases are written for.
func testDecoder() decoder {
	return decoder{self: Identity{UserID: "UBOT", BotID: "BBOT", TeamID: "T1"}, reactions: handlers.DefaultReactions()}
}

// Decoding is one pure function from an envelope to a request or a reason
// to ignore it, checked here on real payloads.
// Every request names the workspace it happened in: its envelope's
// team_id (an interaction's team.id), whoever's team its person is of.
func TestDecodeNamesTheWorkspace(t *testing.T) {
	t.Parallel()

	d := testDecoder()
	named := map[socketmode.EventType]bool{}
	defer func() {
		for _, kind := range []socketmode.EventType{socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand} {
			if !named[kind] {
				t.Errorf("no %s request named its workspace", kind)
			}
		}
	}()
	for _, tt := range decodeCases() {
		evt := fixtureFrame(t, tt.fixture, tt.edit)
		got := d.decode(evt)
		if got.req.Ask == nil {
			continue
		}
		// In order: the cases fill named, which the parent's deferred check reads.
		t.Run(tt.name, func(t *testing.T) {
			var payload struct {
				TeamID string `json:"team_id"`
				Team   struct {
					ID string `json:"id"`
				} `json:"team"`
			}
			if err := json.Unmarshal(evt.Request.Payload, &payload); err != nil {
				t.Fatal(err)
			}
			want := firstOf(payload.TeamID, payload.Team.ID)
			if got.req.Origin.Workspace != want {
				t.Errorf("workspace %q, want the envelope's %q", got.req.Origin.Workspace, want)
			}
			named[evt.Type] = named[evt.Type] || want != ""
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()

	d := testDecoder()
	for _, tt := range decodeCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := describe(d.decode(fixtureFrame(t, tt.fixture, tt.edit)))
			if got != tt.want {
				t.Errorf("decoded\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}

// Every request the decoder makes that admission queues crosses the
// shared queue as it is: its wire form (handlers.EncodeRequest) follows
// from its type.
func TestDecodedRequestsRoundTrip(t *testing.T) {
	t.Parallel()

	d := testDecoder()
	queued := 0
	for _, tc := range decodeCases() {
		req := d.decode(fixtureFrame(t, tc.fixture, tc.edit)).req
		if req.Ask == nil || policyOf(req.Trigger).beside {
			continue
		}
		queued++
		data, err := handlers.EncodeRequest(req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got, err := handlers.DecodeRequest(data)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, req) {
			t.Errorf("%s: %#v came back as %#v", tc.name, req, got)
		}
	}
	if queued == 0 {
		t.Fatal("no decode case makes a queued request")
	}
}
