package bot

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/blocks"
	"github.com/visionbot/visionbot/handlers"
)

// interaction parses a payload as slack-go's Socket Mode client does.
func interaction(t *testing.T, payload map[string]any) slack.InteractionCallback {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatalf("parse interaction: %v", err)
	}
	return cb
}

// messageActionFixture is bolt-python's message shortcut payload, with
// edit applied.
func messageActionFixture(t *testing.T, edit func(map[string]any)) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "fixtures", "data", "slack", "interactive", "message_action.bolt-python.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	return p
}

func TestInteractionRouting(t *testing.T) {
	t.Parallel()

	ref := blocks.EncodeRef(handlers.AnswerRef{UseCase: "recipe", Files: []string{"F1", "F2"}})
	meta := handlers.FormTarget{Channel: "C1", ResponseURL: "https://hooks.slack.com/r"}.Encode()
	tests := []struct {
		name     string
		payload  map[string]any
		want     []string
		wantText string
	}{
		{
			name: "the Analyze image shortcut opens the form for the message, files included",
			payload: messageActionFixture(t, func(p map[string]any) {
				p["callback_id"] = blocks.CallbackShortcut
				p["message"].(map[string]any)["files"] = []any{map[string]any{"id": "F1", "mimetype": "image/png", "filetype": "png"}}
			}),
			want:     []string{"shortcut C111 1583636382.000300"},
			wantText: "111.222.xxx https://hooks.slack.com/app/T111/111/xxx",
		},
		{
			name: "a forwarded message's files are found in its attachment",
			payload: messageActionFixture(t, func(p map[string]any) {
				p["callback_id"] = blocks.CallbackShortcut
				p["message"].(map[string]any)["attachments"] = []any{map[string]any{
					"is_share": true, "files": []any{map[string]any{"id": "F9", "mimetype": "image/jpeg"}}}}
			}),
			want: []string{"shortcut C111"},
		},
		{
			name:    "another app's shortcut is not ours",
			payload: messageActionFixture(t, func(p map[string]any) {}),
		},
		{
			name: "a submitted form runs with its use case, question, files and metadata",
			payload: map[string]any{
				"type": "view_submission", "user": map[string]any{"id": "U1", "team_id": "T1"},
				"view": map[string]any{"id": "V1", "type": "modal", "callback_id": blocks.CallbackAnalyze, "private_metadata": meta,
					"state": map[string]any{"values": map[string]any{
						blocks.InputUseCase:  map[string]any{blocks.InputUseCase: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "recipe"}}},
						blocks.InputQuestion: map[string]any{blocks.InputQuestion: map[string]any{"type": "plain_text_input", "value": "vegan"}},
						blocks.InputFile: map[string]any{blocks.InputFile: map[string]any{"type": "file_input", "files": []any{
							map[string]any{"id": "F1", "name": "dish.png", "mimetype": "image/png", "url_private": "https://files.slack.com/x.png"}}}},
					}}},
			},
			want:     []string{"submit C1 "},
			wantText: "recipe|vegan||F1", // no thread yet: an upload's
		},
		{
			name: "Try another use case reruns in the answer's thread",
			payload: map[string]any{
				"type": "block_actions", "user": map[string]any{"id": "U1"}, "response_url": "https://hooks.slack.com/r",
				"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1700000000.000300", "thread_ts": "1700000000.000100"},
				"actions": []any{map[string]any{"type": "static_select", "action_id": blocks.ActionRerun, "block_id": ref,
					"selected_option": map[string]any{"value": "nutrition"}}},
			},
			want:     []string{"rerun C1 1700000000.000100"},
			wantText: "nutrition|recipe|F1,F2",
		},
		{
			name: "a thumbs up is a vote about the answer's use case",
			payload: map[string]any{
				"type": "block_actions", "user": map[string]any{"id": "U1"},
				"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1700000000.000300"},
				"actions":   []any{map[string]any{"type": "button", "action_id": blocks.ActionFeedbackUp, "block_id": ref, "value": "up"}},
			},
			want:     []string{"feedback C1"},
			wantText: "true|recipe",
		},
		{
			name: "a click on a block that isn't ours is ignored",
			payload: map[string]any{
				"type": "block_actions", "user": map[string]any{"id": "U1"},
				"actions": []any{map[string]any{"type": "button", "action_id": blocks.ActionFeedbackUp, "block_id": "abc"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			socket, flows := &fakeSocket{}, &fakeFlows{}
			b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), testConfig(1, 4))
			b.queue.Start(context.Background())
			deliver(b, socketmode.Event{Type: socketmode.EventTypeInteractive, Data: interaction(t, tt.payload),
				Request: &socketmode.Request{EnvelopeID: "env-1"}})
			b.queue.Shutdown(context.Background())

			if !slices.Equal(socket.acks, []string{"env-1"}) {
				t.Errorf("acks = %v, want the envelope acked once", socket.acks)
			}
			if len(flows.calls) != len(tt.want) {
				t.Fatalf("flows = %v, want %v", flows.calls, tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(flows.calls[i], w) {
					t.Errorf("flow %d = %q, want %q", i, flows.calls[i], w)
				}
			}
			if tt.wantText != "" && flows.texts[0] != tt.wantText {
				t.Errorf("text = %q, want %q", flows.texts[0], tt.wantText)
			}
		})
	}
}

func TestReactionAndHomeRouting(t *testing.T) {
	t.Parallel()

	socket, flows := &fakeSocket{}, &fakeFlows{}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), testConfig(1, 8))
	b.queue.Start(context.Background())
	send := func(eventID string, inner map[string]any) {
		raw, _ := json.Marshal(map[string]any{"type": "event_callback", "team_id": "T1", "event_id": eventID, "event": inner})
		ev, err := slackevents.ParseEvent(raw, slackevents.OptionNoVerifyToken())
		if err != nil {
			t.Fatal(err)
		}
		deliver(b, socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: &socketmode.Request{EnvelopeID: "env-" + eventID}})
	}
	reaction := func(user, emoji string) map[string]any {
		return map[string]any{"type": "reaction_added", "user": user, "reaction": emoji, "item_user": "U2",
			"item": map[string]any{"type": "message", "channel": "C1", "ts": "1700000000.000100"}, "event_ts": "1700000001.000000"}
	}
	send("Ev1", reaction("U1", "fork_and_knife"))
	send("Ev2", reaction("U3", "fork_and_knife")) // someone else, same question: answered once
	send("Ev3", reaction("U1", "tada"))           // not a trigger
	send("Ev4", reaction("UBOT", "fork_and_knife"))
	send("Ev5", map[string]any{"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
	send("Ev6", map[string]any{"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "messages"})
	b.queue.Shutdown(context.Background())

	slices.Sort(flows.calls)
	want := []string{"handlers.MessagesOpened D1 ", "home  ", "reaction C1 1700000000.000100"}
	if !slices.Equal(flows.calls, want) {
		t.Errorf("flows = %q, want %q", flows.calls, want)
	}
	if len(socket.acks) != 6 {
		t.Errorf("acks = %v, want all 6", socket.acks)
	}
}
