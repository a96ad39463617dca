package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// leftoverAnswer puts in C1 a thread whose bot answer's footer names
// fileID: what the bot wrote when a reference was honoured anywhere, or
// an answer about a photo since unshared. It returns the thread and the
// answer's footer block_id.
func leftoverAnswer(t *testing.T, h *harness, fileID string) (root, footer string) {
	t.Helper()
	root = h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "<@" + slackemu.BotUserID + "> recipe"})
	footer = fmt.Sprintf("vb2|n0nce123|%s|recipe|%s", root, fileID)
	h.slack.AddMessage("C1", map[string]any{"user": slackemu.BotUserID, "bot_id": slackemu.BotID, "thread_ts": root,
		"text": "A private carbonara.",
		"blocks": []any{
			map[string]any{"type": "markdown", "text": "A private carbonara."},
			map[string]any{"type": "actions", "block_id": footer, "elements": []any{map[string]any{
				"type": "static_select", "action_id": "rerun",
				"placeholder": map[string]any{"type": "plain_text", "text": "Try another use case"},
				"options":     []any{map[string]any{"text": map[string]any{"type": "plain_text", "text": "nutrition"}, "value": "nutrition"}},
			}}},
		}})
	return root, footer
}

// An answer in a public channel whose footer names a file shared only in a
// private channel: "Try another use case" and a follow-up there do not
// make the bot read that file again; each is told why, in the thread.
func TestFooterFilesNotSharedHereAreNotReadAgain(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.gemini.Script(geminiemu.Reply{Text: "More about the private photo."}, geminiemu.Reply{Text: "And more."})
	file := photoFile(h, slackemu.MakePNG(32, 24))
	id := file["id"].(string)
	h.slack.AddMessage("G7", map[string]any{"user": "U2", "text": "private lunch", "files": []any{file}})
	root, footer := leftoverAnswer(t, h, id)

	click, _ := json.Marshal(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": slackemu.TeamID},
		"user":         map[string]any{"id": "U3", "team_id": slackemu.TeamID},
		"response_url": h.slack.ResponseURL(), "trigger_id": h.slack.NewTriggerID(),
		"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": root, "thread_ts": root},
		"channel":   map[string]any{"id": "C1"},
		"message":   map[string]any{"type": "message", "ts": root, "thread_ts": root},
		"actions": []any{map[string]any{"type": "static_select", "action_id": "rerun", "block_id": footer,
			"selected_option": map[string]any{"value": "nutrition"}, "action_ts": "1700000001.000000"}},
	})
	if _, err := h.slack.SendEnvelope("interactive", click); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"trigger":"rerun"`)

	const followTS = "1700000009.000100"
	h.slack.AddMessage("C1", map[string]any{"user": "U3", "text": "<@" + slackemu.BotUserID + "> and the wine?", "ts": followTS, "thread_ts": root})
	if _, err := h.slack.SendEvent([]byte(fmt.Sprintf(`{"type":"app_mention","user":"U3","text":"<@%s> and the wine?","ts":%q,"thread_ts":%q,"channel":"C1","event_ts":%q}`,
		slackemu.BotUserID, followTS, root, followTS)), ""); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"trigger":"mention"`)

	if n := downloadsOf(h, id); n != 0 {
		t.Errorf("the private photo was downloaded %d times for a public channel", n)
	}
	if n := len(streamRequests(t, h.gemini)); n != 0 {
		t.Errorf("Gemini was asked %d times about a photo not shared here", n)
	}
	var told int
	var shown []string
	for _, p := range h.slack.Posted("C1") {
		if p.ThreadTS == root {
			shown = append(shown, answerText(t, p))
		}
		if p.ThreadTS == root && strings.Contains(answerText(t, p), "isn't shared in this conversation") {
			told++
		}
	}
	if told != 2 {
		t.Errorf("the thread has %d notices that the image isn't shared here, want 2 (the rerun's, the follow-up's): %q", told, shown)
	}
}
