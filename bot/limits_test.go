package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
)

// request is one delivery to the loop, after the fake clock moved on by
// later.
type request struct {
	later time.Duration
	event func(t *testing.T, envelope string) socketmode.Event
}

// callback is an Events API envelope whose workspace is team, as Slack
// sends it.
func callback(team, eventID string, inner map[string]any) func(*testing.T, string) socketmode.Event {
	return func(t *testing.T, envelope string) socketmode.Event {
		t.Helper()
		raw, err := json.Marshal(map[string]any{"type": "event_callback", "team_id": team, "event_id": eventID, "event": inner})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := slackevents.ParseEvent(raw, slackevents.OptionNoVerifyToken())
		if err != nil {
			t.Fatal(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: envelope}}
	}
}

// mentionIn is an app_mention by user in channel, in thread ("" for a
// message at the top), from the bot's own team unless the event says
// otherwise.
func mentionIn(eventID, channel, user, ts, thread string) request {
	inner := map[string]any{"type": "app_mention", "user": user, "text": "<@UBOT> recipe", "ts": ts, "channel": channel}
	if thread != "" {
		inner["thread_ts"] = thread
	}
	return request{event: callback("T1", eventID, inner)}
}

func reactionOn(eventID, channel, user, ts string) request {
	return request{event: callback("T1", eventID, map[string]any{"type": "reaction_added", "user": user, "reaction": "fork_and_knife",
		"item": map[string]any{"type": "message", "channel": channel, "ts": ts}, "event_ts": "1700000001.000000"})}
}

func slashIn(channel, user, team string) request {
	return request{event: func(_ *testing.T, envelope string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeSlashCommand, Request: &socketmode.Request{EnvelopeID: envelope},
			Data: slack.SlashCommand{Command: "/analyze", Text: "recipe", ChannelID: channel, UserID: user, TeamID: team,
				ResponseURL: "https://hooks.slack.com/commands/x"}}
	}}
}

func interactive(payload map[string]any) request {
	return request{event: func(t *testing.T, envelope string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: interaction(t, payload),
			Request: &socketmode.Request{EnvelopeID: envelope}}
	}}
}

func shortcutIn(channel, user, team string) request {
	return interactive(map[string]any{
		"type": "message_action", "callback_id": blocks.CallbackShortcut, "trigger_id": "tr1", "response_url": "https://hooks.slack.com/app/x",
		"user": map[string]any{"id": user, "team_id": team}, "channel": map[string]any{"id": channel},
		"message": map[string]any{"type": "message", "ts": "1700000000.000100", "user": "U2"},
	})
}

func submitTo(channel, thread, user string) request {
	meta := fmt.Sprintf(`{"c":%q,"t":%q,"r":"https://hooks.slack.com/r"}`, channel, thread)
	return interactive(map[string]any{
		"type": "view_submission", "user": map[string]any{"id": user, "team_id": "T1"},
		"view": map[string]any{"id": "V1", "type": "modal", "callback_id": blocks.CallbackAnalyze, "private_metadata": meta},
	})
}

func rerunIn(channel, thread, user string) request {
	return interactive(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "team_id": "T1"}, "response_url": "https://hooks.slack.com/r",
		"container": map[string]any{"type": "message", "channel_id": channel, "message_ts": thread + "1", "thread_ts": thread},
		"actions": []any{map[string]any{"type": "static_select", "action_id": blocks.ActionRerun,
			"block_id": blocks.EncodeRef(handlers.AnswerRef{UseCase: "recipe", Files: []string{"F1"}}), "selected_option": map[string]any{"value": "nutrition"}}},
	})
}

func after(d time.Duration, r request) request { r.later = d; return r }

// runRequests delivers requests to a loop configured by cfg (on a fake
// clock), lets every job and notice finish, and returns the flows called,
// sorted.
func runRequests(t *testing.T, cfg Config, requests []request) []string {
	t.Helper()
	clock := newFakeClock()
	base := testConfig(1, 64)
	base.Limits, base.Access = cfg.Limits, cfg.Access
	if base.Limits.ThreadWindow == 0 {
		base.Limits.ThreadWindow = DefaultConfig().Limits.ThreadWindow
	}
	base.Teams = fakeTeams{}
	base.Store = store.NewMemory(clock.Now)
	socket, flows := &fakeSocket{}, &fakeFlows{}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), base)
	b.queue.Start(context.Background())
	for i, r := range requests {
		clock.Advance(r.later)
		deliver(b, r.event(t, fmt.Sprintf("env-%d", i)))
	}
	b.queue.Shutdown(context.Background())
	if len(socket.acks) != len(requests) {
		t.Errorf("acks = %v: every envelope is acked, refused or not", socket.acks)
	}
	return slices.Sorted(slices.Values(flows.calls))
}

func TestLimits(t *testing.T) {
	t.Parallel()

	perMinute := func(n int64) Rate { return Rate{N: n, Per: time.Minute} }
	tests := []struct {
		name     string
		limits   Limits
		requests []request
		want     []string
	}{
		{"a user over the rate is told once, then silence until the window ends",
			Limits{User: perMinute(2)}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev2", "C1", "U1", "1.000002", ""),
				after(20*time.Second, mentionIn("Ev3", "C1", "U1", "1.000003", "")),
				mentionIn("Ev4", "C1", "U1", "1.000004", ""),
				after(40*time.Second, mentionIn("Ev5", "C1", "U1", "1.000005", "")),
			}, []string{"mention C1 1.000001", "mention C1 1.000002", "mention C1 1.000005", "user-rate(2 in 40s) C1 1.000003"}},
		{"another user is not held back by the first one's rate",
			Limits{User: perMinute(1)}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev2", "C1", "U1", "1.000002", ""),
				mentionIn("Ev3", "C1", "U2", "1.000003", ""),
			}, []string{"mention C1 1.000001", "mention C1 1.000003", "user-rate(1 in 1m0s) C1 1.000002"}},
		{"a channel over its rate tells each user once",
			Limits{User: perMinute(10), Channel: perMinute(2)}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev2", "C1", "U2", "1.000002", ""),
				mentionIn("Ev3", "C1", "U3", "1.000003", ""),
				mentionIn("Ev4", "C1", "U3", "1.000004", ""),
				mentionIn("Ev5", "C1", "U4", "1.000005", ""),
				mentionIn("Ev6", "C2", "U4", "1.000006", ""),
			}, []string{"channel-rate(2 in 1m0s) C1 1.000003", "channel-rate(2 in 1m0s) C1 1.000005",
				"mention C1 1.000001", "mention C1 1.000002", "mention C2 1.000006"}},
		{"two bots mentioning each other stop at the thread's cap, each told once",
			Limits{ThreadReplies: 2}, []request{
				mentionIn("Ev1", "C1", "UA", "1.000001", "1.000000"),
				mentionIn("Ev2", "C1", "UB", "1.000002", "1.000000"),
				mentionIn("Ev3", "C1", "UA", "1.000003", "1.000000"),
				mentionIn("Ev4", "C1", "UB", "1.000004", "1.000000"),
				mentionIn("Ev5", "C1", "UA", "1.000005", "1.000000"),
				mentionIn("Ev6", "C1", "UB", "1.000006", "1.000000"),
				mentionIn("Ev7", "C1", "UA", "2.000000", ""), // a new thread
				after(24*time.Hour, mentionIn("Ev8", "C1", "UA", "1.000008", "1.000000")),
			}, []string{"mention C1 1.000001", "mention C1 1.000002", "mention C1 1.000008", "mention C1 2.000000",
				"thread-cap(2 in 24h0m0s) C1 1.000003", "thread-cap(2 in 24h0m0s) C1 1.000004"}},
		{"a reaction counts against its message's thread",
			Limits{ThreadReplies: 1}, []request{
				reactionOn("Ev1", "C1", "U1", "1.000000"),
				mentionIn("Ev2", "C1", "U2", "1.000002", "1.000000"),
			}, []string{"reaction C1 1.000000", "thread-cap(1 in 24h0m0s) C1 1.000002"}},
		{"a rerun over the thread's cap is told privately",
			Limits{ThreadReplies: 1}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", "1.000000"),
				rerunIn("C1", "1.000000", "U1"),
			}, []string{"mention C1 1.000001", "thread-cap-slash(1 in 24h0m0s) C1 1.000000"}},
		{"a slash command over the rate is told privately",
			Limits{User: perMinute(1)}, []request{
				slashIn("C1", "U1", "T1"),
				slashIn("C1", "U1", "T1"),
				slashIn("C1", "U1", "T1"),
			}, []string{"slash C1 ", "user-rate-slash(1 in 1m0s) C1 "}},
		{"a form counts against the rates and its thread",
			Limits{User: perMinute(5), ThreadReplies: 1}, []request{
				submitTo("C1", "1.000000", "U1"),
				submitTo("C1", "1.000000", "U1"),
				submitTo("C1", "", "U1"), // an upload: its thread is new
			}, []string{"submit C1 ", "submit C1 1.000000", "thread-cap-submit(1 in 24h0m0s) C1 1.000000"}},
		{"Slack's retries are not counted twice",
			Limits{User: perMinute(1)}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
			}, []string{"mention C1 1.000001"}},
		{"no limits", Limits{}, []request{
			mentionIn("Ev1", "C1", "U1", "1.000001", "1.000000"),
			mentionIn("Ev2", "C1", "U1", "1.000002", "1.000000"),
			mentionIn("Ev3", "C1", "U1", "1.000003", "1.000000"),
		}, []string{"mention C1 1.000001", "mention C1 1.000002", "mention C1 1.000003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := runRequests(t, Config{Limits: tt.limits}, tt.requests)
			if !slices.Equal(got, tt.want) {
				t.Errorf("flows =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

// failingStore fails every call.
type failingStore struct{}

func (failingStore) Remember(context.Context, time.Duration, ...string) (bool, error) {
	return false, fmt.Errorf("store down")
}

func (failingStore) Admit(context.Context, time.Duration, []string, []store.Counter) (store.Admission, error) {
	return store.Admission{}, fmt.Errorf("store down")
}

func (failingStore) Spend(context.Context, time.Duration, int64, ...string) error {
	return fmt.Errorf("store down")
}

// fakeTeams is users.info for the tests' workspace T1: the users whose id
// starts with UX are of another team, T9, as in a Slack Connect channel;
// UFAIL can't be looked up.
type fakeTeams struct{}

func (fakeTeams) TeamOf(_ context.Context, user string) (string, error) {
	switch {
	case user == "UFAIL":
		return "", fmt.Errorf("users.info: ratelimited")
	case strings.HasPrefix(user, "UX"):
		return "T9", nil
	}
	return "T1", nil
}

// A store that fails lets requests through: an answer given twice, or
// beyond a limit, is better than none.
func TestStoreErrorsLetRequestsThrough(t *testing.T) {
	t.Parallel()

	socket, flows := &fakeSocket{}, &fakeFlows{}
	cfg := testConfig(1, 8)
	cfg.Store, cfg.Teams = failingStore{}, fakeTeams{}
	cfg.Limits = Limits{User: Rate{N: 1, Per: time.Minute}, Channel: Rate{N: 1, Per: time.Minute}, ThreadReplies: 1, ThreadWindow: time.Hour}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
	b.queue.Start(context.Background())
	for i := range 3 {
		ts := fmt.Sprintf("1.00000%d", i)
		deliver(b, mentionIn("Ev"+ts, "C1", "U1", ts, "1.000000").event(t, "env-"+ts))
	}
	b.queue.Shutdown(context.Background())
	if len(flows.calls) != 3 {
		t.Errorf("flows = %q, want all 3 mentions answered", flows.calls)
	}
}

func TestAllowLists(t *testing.T) {
	t.Parallel()

	external := func(team string) request {
		return request{event: callback("T1", "EvX", map[string]any{"type": "app_mention", "user": "UX", "text": "<@UBOT>",
			"ts": "1.000009", "channel": "C1", "user_team": team})}
	}
	// The python-slack-sdk app_mention fixture carries the author's team
	// as "team" only, as Slack's payloads do (slack-go drops that field),
	// here delivered to the bot's workspace T1.
	fixtureMention := func(team string) request {
		return request{event: func(t *testing.T, envelope string) socketmode.Event {
			ev := fixtureCallback(t, "socketmode/events_api_app_mention.python-slack-sdk.json", func(e map[string]any) { e["team"] = team })
			ev.TeamID = "T1"
			return socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: envelope}}
		}}
	}
	tests := []struct {
		name     string
		access   Access
		requests []request
		want     []string
	}{
		{"no lists: everyone of the bot's team",
			Access{}, []request{mentionIn("Ev1", "C1", "U1", "1.000001", ""), slashIn("C2", "U2", "T1")},
			[]string{"mention C1 1.000001", "slash C2 "}},
		{"no lists: a Slack Connect user of another team is ignored, silently",
			Access{}, []request{external("T9"), slashIn("C1", "UX", "T9"), fixtureMention("T9")},
			[]string{"not-enabled-slash C1 "}},
		// reaction_added names no team, and a slash command's team_id is
		// the workspace it was typed in: the user's own is looked up.
		{"no lists: an outsider's reaction is ignored, and their command in our workspace refused",
			Access{}, []request{reactionOn("Ev1", "C1", "UX1", "1.000001"), slashIn("C1", "UX1", "T1")},
			[]string{"not-enabled-slash C1 "}},
		{"ALLOWED_TEAMS: an outsider's reaction is ignored",
			Access{Teams: SlackIDs{"T1"}}, []request{reactionOn("Ev1", "C1", "UX1", "1.000001"), reactionOn("Ev2", "C1", "U1", "1.000002")},
			[]string{"reaction C1 1.000002"}},
		{"a user whose team can't be looked up is refused, told where they can be",
			Access{}, []request{reactionOn("Ev1", "C1", "UFAIL", "1.000001"), slashIn("C1", "UFAIL", "T1")},
			[]string{"unknown-team-slash C1 "}},
		{"the fixture's own team is no outsider",
			Access{Teams: SlackIDs{"T111"}}, []request{fixtureMention("T111")},
			[]string{"mention C111 1610241741.000200"}},
		{"ALLOW_EXTERNAL_USERS lets other teams in",
			Access{External: true}, []request{external("T9"), fixtureMention("T9")},
			[]string{"mention C1 1.000009", "mention C111 1610241741.000200"}},
		{"ALLOWED_TEAMS: only the teams listed, the bot's own included",
			Access{Teams: SlackIDs{"T9"}}, []request{external("T9"), mentionIn("Ev1", "C1", "U1", "1.000001", "")},
			[]string{"mention C1 1.000009"}},
		{"ALLOWED_CHANNELS: silence for mentions, DMs and reactions elsewhere; commands are told",
			Access{Channels: SlackIDs{"C1"}}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev2", "C2", "U1", "1.000002", ""),
				request{event: callback("T1", "Ev3", map[string]any{"type": "message", "channel_type": "im", "channel": "D1",
					"user": "U1", "text": "hi", "ts": "1.000003"})},
				reactionOn("Ev4", "C2", "U1", "1.000004"),
				slashIn("C2", "U1", "T1"),
				shortcutIn("C2", "U1", "T1"),
				submitTo("C2", "1.000000", "U1"),
				rerunIn("C2", "1.000000", "U1"),
				slashIn("C1", "U1", "T1"),
			}, []string{"mention C1 1.000001", "not-enabled-slash C2 ", "not-enabled-slash C2 ",
				"not-enabled-slash C2 1.000000", "not-enabled-submit C2 1.000000", "slash C1 "}},
		{"ALLOWED_USERS: only the users listed",
			Access{Users: SlackIDs{"U1"}}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev2", "C1", "U2", "1.000002", ""),
				shortcutIn("C1", "U2", "T1"),
				shortcutIn("C1", "U1", "T1"),
			}, []string{"mention C1 1.000001", "not-enabled-slash C1 ", "shortcut C1 1700000000.000100"}},
		{"every list must let the request in",
			Access{Channels: SlackIDs{"C1"}, Users: SlackIDs{"U1"}}, []request{
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
				mentionIn("Ev2", "C1", "U2", "1.000002", ""),
				mentionIn("Ev3", "C2", "U1", "1.000003", ""),
			}, []string{"mention C1 1.000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := runRequests(t, Config{Access: tt.access}, tt.requests)
			if !slices.Equal(got, tt.want) {
				t.Errorf("flows =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func voteBy(user, team string) request {
	return interactive(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "team_id": team}, "response_url": "https://hooks.slack.com/r",
		"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1.000200", "thread_ts": "1.000100"},
		"actions": []any{map[string]any{"type": "feedback_buttons", "action_id": blocks.ActionFeedback, "value": "up",
			"block_id": blocks.EncodeRef(handlers.AnswerRef{UseCase: "recipe", Files: []string{"F1"}})}},
	})
}

func whatWasWrongBy(user, team string) request {
	return interactive(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "team_id": team}, "response_url": "https://hooks.slack.com/r",
		"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1.000300", "thread_ts": "1.000100"},
		"actions": []any{map[string]any{"type": "plain_text_input", "action_id": blocks.ActionWhatWasWrong, "value": "soup",
			"block_id": blocks.EncodeRef(handlers.AnswerRef{UseCase: "recipe", Thread: "1.000100"})}},
	})
}

func contextChangedBy(eventID, user string) request {
	return request{event: callback("T1", eventID, map[string]any{"type": "app_context_changed", "user": user, "channel": "D1",
		"event_ts": "1.000300", "context": map[string]any{"entities": []any{}}})}
}

// Votes, the line after a 👎 and what a person looks at with the Messages
// tab open run beside the queue, but not beside admission: the
// allow-lists apply to them (an outsider is told privately, or gets
// silence), and so does the per-user rate, counted apart from answers so
// that clicking around never costs a person an answer.
func TestQuickRequestsKeepTheListsAndTheRate(t *testing.T) {
	perMinute := func(n int64) Rate { return Rate{N: n, Per: time.Minute} }
	tests := []struct {
		name     string
		access   Access
		limits   Limits
		requests []request
		want     []string
	}{
		{"ALLOWED_USERS: another person's vote and line are refused privately, their context changes ignored",
			Access{Users: SlackIDs{"U1"}}, Limits{}, []request{
				voteBy("U1", "T1"), voteBy("U2", "T1"), whatWasWrongBy("U2", "T1"),
				contextChangedBy("Ev1", "U2"), contextChangedBy("Ev2", "U1"),
			}, []string{"feedback C1 1.000200", "handlers.Viewing D1 ", "not-enabled-slash C1 1.000100", "not-enabled-slash C1 1.000200"}},
		{"an outsider's vote is refused privately",
			Access{}, Limits{}, []request{voteBy("UX1", "T9")},
			[]string{"not-enabled-slash C1 1.000200"}},
		{"votes over the per-user rate are refused once, and leave the person's answers alone",
			Access{}, Limits{User: perMinute(2)}, []request{
				voteBy("U1", "T1"), voteBy("U1", "T1"), voteBy("U1", "T1"), voteBy("U1", "T1"),
				mentionIn("Ev1", "C1", "U1", "1.000001", ""),
			}, []string{"feedback C1 1.000200", "feedback C1 1.000200", "mention C1 1.000001", "user-rate-slash(2 in 1m0s) C1 1.000200"}},
		// A context change has no thread and no response_url: the refusal
		// reaches Decline, which has nowhere to say it (handlers' tell).
		{"context changes over the per-user rate are refused",
			Access{}, Limits{User: perMinute(2)}, []request{
				contextChangedBy("Ev1", "U1"), contextChangedBy("Ev2", "U1"), contextChangedBy("Ev3", "U1"),
			}, []string{"handlers.Viewing D1 ", "handlers.Viewing D1 ", "user-rate(2 in 1m0s) D1 "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runRequests(t, Config{Access: tt.access, Limits: tt.limits}, tt.requests)
			if !slices.Equal(got, tt.want) {
				t.Errorf("flows =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}
