package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/slackemu"
)

// What the bot reads for a conversation: a reference to a message made for
// one person's DM, and the files an answer's footer names, are read only
// where the people who see the answer may see them too.

// viewMessage sends the app_context_changed of user, in their DM dm,
// looking at channel/ts with the Messages tab open.
func viewMessage(t *testing.T, h *harness, user, dm, channel, ts string) {
	t.Helper()
	ev, _ := json.Marshal(map[string]any{"type": "app_context_changed", "user": user, "channel": dm, "event_ts": "1700000001.000100",
		"context": map[string]any{"entities": []any{
			map[string]any{"type": "slack#/types/message_context", "value": map[string]any{"channel_id": channel, "message_ts": ts}},
		}}})
	if _, err := h.slack.SendEvent(ev, ""); err != nil {
		t.Fatal(err)
	}
}

// readsOf counts the bot's conversations.replies calls for channel/ts.
func readsOf(h *harness, channel, ts string) int {
	n := 0
	for _, c := range h.slack.Calls("conversations.replies") {
		if c.Params["channel"] == channel && c.Params["ts"] == ts {
			n++
		}
	}
	return n
}

// downloadsOf counts the downloads of a file's bytes, any copy of it.
func downloadsOf(h *harness, fileID string) int {
	n := 0
	for _, d := range h.slack.Downloads() {
		if strings.Contains(d.Path, "-"+fileID+"/") || strings.Contains(d.Path, "-"+fileID+"-") {
			n++
		}
	}
	return n
}

// A prompt about a photo in a private channel, made for U1's DM and pasted
// by U1 into a public channel's mention, does not make the bot read that
// photo there: the reference is text like any other.
func TestAReferencePastedInAChannelIsNotRead(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	file := photoFile(h, slackemu.MakePNG(32, 24))
	photo := h.slack.AddMessage("G7", map[string]any{"user": "U2", "text": "private lunch", "files": []any{file}})
	viewMessage(t, h, "U1", "D1", "G7", photo)
	waitFor(t, func() bool { return len(h.slack.SuggestedPromptsOf("D1").Prompts) > 0 }, "prompts for the photo viewed")
	var recipe string
	for _, p := range h.slack.SuggestedPromptsOf("D1").Prompts {
		if strings.HasPrefix(p.Message, "recipe ") {
			recipe = p.Message
		}
	}
	if recipe == "" {
		t.Fatalf("no recipe prompt among %+v", h.slack.SuggestedPromptsOf("D1").Prompts)
	}
	reads := readsOf(h, "G7", photo)

	const ts = "1700000002.000100"
	text := "<@" + slackemu.BotUserID + "> " + recipe
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": text, "ts": ts})
	if _, err := h.slack.SendEvent(mentionEvent(t, "C1", "U1", ts, recipe), ""); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"trigger":"mention"`)
	if n := readsOf(h, "G7", photo); n != reads {
		t.Errorf("the bot read the private message %d more times for a public channel", n-reads)
	}
	if n := len(streamRequests(t, h.gemini)); n != 0 {
		t.Errorf("Gemini was asked %d times about a private photo from a public channel", n)
	}
	if n := downloadsOf(h, file["id"].(string)); n != 0 {
		t.Errorf("the private photo was downloaded %d times", n)
	}
}
