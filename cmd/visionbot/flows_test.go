package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// End-to-end tests of the Slack experience: streaming, the shortcut and
// its modal, follow-ups, "Try another use case", reaction triggers and the
// Home tab, with the real slack-go and genai clients against the emulators.

// waitLog waits until the bot has logged n lines containing every one of
// parts: a request's log line is written when everything it did is over.
func (h *harness) waitLog(t *testing.T, n int, parts ...string) {
	t.Helper()
	waitFor(t, func() bool { return h.logged(parts...) >= n }, fmt.Sprintf("%d log lines with %q", n, parts))
}

// answerText is what a posted answer shows: its markdown blocks, or the
// streamed text of a native stream.
func answerText(t *testing.T, p slackemu.Posted) string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if p.Blocks != nil {
		if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
			t.Fatalf("blocks %s: %v", p.Blocks, err)
		}
	}
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type == "markdown" {
			b.WriteString(bl.Text)
		}
	}
	if b.Len() == 0 {
		return p.Text
	}
	return b.String()
}

// onlyAnswer is the one message the bot left in the thread ts of channel.
func onlyAnswer(t *testing.T, h *harness, channel, ts string) slackemu.Posted {
	t.Helper()
	var answers []slackemu.Posted
	for _, p := range h.slack.Posted(channel) {
		if p.ThreadTS == ts {
			answers = append(answers, p)
		}
	}
	if len(answers) != 1 {
		t.Fatalf("answers in the thread = %+v, want exactly one", answers)
	}
	return answers[0]
}

// footerID is the block_id of the actions block under an answer.
func footerID(t *testing.T, p slackemu.Posted) string {
	t.Helper()
	var blocks []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
	}
	_ = json.Unmarshal(p.Blocks, &blocks)
	for _, b := range blocks {
		if b.Type == "actions" {
			return b.BlockID
		}
	}
	t.Fatalf("the answer has no footer: %s", p.Blocks)
	return ""
}

// footerAbout is what an answer's footer says it was about, "use
// case|files", after checking the footer's shape: a "Try another use case"
// menu and Slack's native feedback buttons, each block with a block_id of
// its own (Slack wants new ones for every version of a message).
func footerAbout(t *testing.T, p slackemu.Posted) string {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			Type string `json:"type"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(p.Blocks, &blocks)
	var menu, feedback string
	for _, b := range blocks {
		switch {
		case b.Type == "actions":
			menu = b.BlockID
		case b.Type == "context_actions" && len(b.Elements) == 1 && b.Elements[0].Type == "feedback_buttons":
			feedback = b.BlockID
		}
	}
	if menu == "" || feedback == "" || menu == feedback {
		t.Fatalf("the answer's footer wants a menu and feedback buttons with block_ids of their own: %s", p.Blocks)
	}
	// vb2|nonce|thread|use case|files
	parts := strings.SplitN(menu, "|", 5)
	if len(parts) != 5 || parts[0] != "vb2" {
		t.Fatalf("footer block_id %q", menu)
	}
	return parts[3] + "|" + parts[4]
}

// streamRequests are the requests of every answer Gemini was asked for,
// as the emulator read them.
func streamRequests(t *testing.T, g *geminiemu.Server) []*geminiemu.Request {
	t.Helper()
	var out []*geminiemu.Request
	for _, r := range g.Requests() {
		if r.Method != "streamGenerateContent" {
			continue
		}
		req, err := r.Request()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, req)
	}
	return out
}

// mentionWithPhoto sends an app_mention with a photo in C1 and waits for
// the request to end.
func mentionWithPhoto(t *testing.T, h *harness, ts, text string) map[string]any {
	t.Helper()
	file := photoFile(h, slackemu.MakePNG(32, 24))
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": text, "files": []any{file}, "ts": ts})
	inner := fixtureEvent(t, "slack/events/message_file_share_png.bolt-python.json", func(ev map[string]any) {
		ev["type"] = "app_mention"
		ev["text"] = text
		ev["channel"] = "C1"
		ev["user"] = "U1"
		ev["ts"] = ts
		ev["files"] = []any{file}
		delete(ev, "subtype")
	})
	if _, err := h.slack.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestStreamedAnswer(t *testing.T) {
	t.Parallel()

	const answer = "## Spaghetti\n\nBoil the water, salt it well, and cook the pasta until al dente. Toss with the sauce."
	tests := []struct {
		name      string
		env       map[string]string
		setup     func(h *harness)
		streamed  bool
		noMethods []string
	}{
		{name: "native streaming", env: map[string]string{"STREAM_INTERVAL": "200ms"}, streamed: true,
			noMethods: []string{"chat.postMessage", "chat.update"}},
		{name: "falls back to updates when chat.startStream fails",
			env: map[string]string{"STREAM_INTERVAL": "200ms"},
			setup: func(h *harness) {
				h.slack.Fail("chat.startStream", 1, 200, nil, `{"ok":false,"error":"feature_not_enabled"}`)
			},
			noMethods: []string{"chat.appendStream", "chat.stopStream"}},
		{name: "update mode", env: map[string]string{"STREAM_MODE": "update", "STREAM_INTERVAL": "200ms"},
			noMethods: []string{"chat.startStream"}},
		{name: "off posts the whole answer once", env: map[string]string{"STREAM_MODE": "off"},
			noMethods: []string{"chat.startStream", "chat.update"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, tt.env)
			if tt.setup != nil {
				tt.setup(h)
			}
			h.gemini.Script(geminiemu.Reply{Text: answer, ChunkDelay: 150 * time.Millisecond})
			const ts = "1700000000.000100"
			file := mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> recipe")
			h.waitLog(t, 1, `"trigger":"mention"`, `"outcome":"ok"`)

			got := onlyAnswer(t, h, "C1", ts)
			if text := answerText(t, got); text != answer {
				t.Errorf("answer shows %q, want %q", text, answer)
			}
			if got.Streamed != tt.streamed {
				t.Errorf("streamed = %v, want %v", got.Streamed, tt.streamed)
			}
			if id := footerAbout(t, got); id != "recipe|"+file["id"].(string) {
				t.Errorf("footer block_id = %q", id)
			}
			for _, m := range tt.noMethods {
				if calls := h.slack.Calls(m); len(calls) != 0 {
					t.Errorf("%s called %d times", m, len(calls))
				}
			}
			if !tt.streamed {
				return
			}
			starts, appends, stops := h.slack.Calls("chat.startStream"), h.slack.Calls("chat.appendStream"), h.slack.Calls("chat.stopStream")
			if len(starts) != 1 || len(stops) != 1 {
				t.Fatalf("startStream %d, stopStream %d: want one each", len(starts), len(stops))
			}
			if s := starts[0].Params; s["thread_ts"] != ts || s["recipient_user_id"] != "U1" || s["recipient_team_id"] == "" {
				t.Errorf("startStream params = %v: a channel stream needs its thread and recipient", s)
			}
			var streamed strings.Builder
			for _, c := range append(append(starts, appends...), stops...) {
				streamed.WriteString(c.Params["markdown_text"])
			}
			if streamed.String() != answer {
				t.Errorf("start + appends + stop = %q, want the model's answer", streamed.String())
			}
			if !starts[0].At.Before(stops[0].At) {
				t.Error("the stream stopped before it started")
			}
		})
	}
}

// shortcutPayload is bolt-python's message_action payload pointed at a
// message in the emulator.
func shortcutPayload(t *testing.T, h *harness, channel string, msg map[string]any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "internal", "fixtures", "data", "slack", "interactive", "message_action.bolt-python.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	p["callback_id"] = "analyze_image"
	p["trigger_id"] = h.slack.NewTriggerID()
	p["channel"] = map[string]any{"id": channel, "name": "food"}
	p["user"] = map[string]any{"id": "U1", "team_id": slackemu.TeamID}
	p["team"] = map[string]any{"id": slackemu.TeamID}
	p["message"] = msg
	p["message_ts"] = msg["ts"]
	p["response_url"] = h.slack.ResponseURL()
	out, _ := json.Marshal(p)
	return out
}

// submission fills in and submits an opened view, as Slack sends it.
func submission(view map[string]any, values map[string]any) []byte {
	view["state"] = map[string]any{"values": values}
	out, _ := json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]any{"id": slackemu.TeamID},
		"user": map[string]any{"id": "U1", "team_id": slackemu.TeamID}, "view": view,
	})
	return out
}

func selected(block, value string) map[string]any {
	return map[string]any{block: map[string]any{"type": "static_select", "selected_option": map[string]any{"value": value}}}
}

func TestShortcutModalAnswer(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	file := photoFile(h, slackemu.MakePNG(32, 24))
	ts := h.slack.AddMessage("C1", map[string]any{"user": "U2", "text": "lunch", "files": []any{file}})
	h.gemini.Script(geminiemu.Reply{Text: "Vegan version."})

	if _, err := h.slack.SendEnvelope("interactive", shortcutPayload(t, h, "C1", h.slack.Message("C1", ts))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.Views()) == 1 }, "the modal opens")
	view := h.slack.Views()[0]
	blocks, _ := json.Marshal(view["blocks"])
	if !strings.Contains(string(blocks), `"static_select"`) || !strings.Contains(string(blocks), `"value":"recipe"`) {
		t.Fatalf("the modal lacks the use-case menu: %s", blocks)
	}

	sub := submission(view, map[string]any{
		"usecase":  selected("usecase", "recipe"),
		"question": map[string]any{"question": map[string]any{"type": "plain_text_input", "value": "make it vegan"}},
	})
	env, err := h.slack.SendEnvelope("interactive", sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.slack.WaitAck(env, wait); err != nil {
		t.Fatalf("the submission was not acked (the modal would not close): %v", err)
	}
	h.waitLog(t, 1, `"trigger":"form"`, `"outcome":"ok"`)
	var answer *slackemu.Posted
	for _, p := range h.slack.Posted("C1") {
		if p.ThreadTS == ts {
			answer = &p
		}
	}
	if answer == nil || answerText(t, *answer) != "Vegan version." {
		t.Fatalf("no answer in the message's thread: %+v", h.slack.Posted("C1"))
	}
	reqs := streamRequests(t, h.gemini)
	if len(reqs) != 1 || !strings.Contains(reqs[0].Contents[0].Parts[len(reqs[0].Contents[0].Parts)-1].Text+reqs[0].Contents[0].Parts[0].Text, "make it vegan") {
		t.Errorf("the question did not reach Gemini: %+v", reqs)
	}
}

func TestShortcutOnAMessageWithoutImage(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	ts := h.slack.AddMessage("C1", map[string]any{"user": "U2", "text": "no photo"})
	if _, err := h.slack.SendEnvelope("interactive", shortcutPayload(t, h, "C1", h.slack.Message("C1", ts))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.Views()) == 1 }, "the modal opens")
	raw, _ := json.Marshal(h.slack.Views()[0])
	if !strings.Contains(string(raw), "no image") || strings.Contains(string(raw), `"submit"`) {
		t.Errorf("want a notice without a submit button: %s", raw)
	}
}

func TestSlashWithoutPhotoUploadModal(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.gemini.Script(geminiemu.Reply{Text: "Nice UI."})
	if _, err := h.slack.SendSlashCommand(map[string]string{"command": "/analyze", "text": "code in Go", "channel_id": "C1", "user_id": "U1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.Views()) == 1 }, "the upload modal opens")
	view := h.slack.Views()[0]
	raw, _ := json.Marshal(view)
	if !strings.Contains(string(raw), "file_input") || !strings.Contains(string(raw), `"initial_value":"in Go"`) {
		t.Fatalf("the modal lacks the file input or the question: %s", raw)
	}
	file := photoFile(h, slackemu.MakePNG(32, 24))
	sub := submission(view, map[string]any{
		"file":     map[string]any{"file": map[string]any{"type": "file_input", "files": []any{file}}},
		"usecase":  selected("usecase", "code"),
		"question": map[string]any{"question": map[string]any{"type": "plain_text_input", "value": "in Go"}},
	})
	if _, err := h.slack.SendEnvelope("interactive", sub); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"trigger":"form"`, `"outcome":"ok"`)
	var intro, answer *slackemu.Posted
	for _, p := range h.slack.Posted("C1") {
		switch {
		case p.ThreadTS == "":
			intro = &p
		default:
			answer = &p
		}
	}
	if intro == nil || !strings.Contains(answerText(t, *intro), "<@U1>") || !strings.Contains(answerText(t, *intro), "dinner.jpg") {
		t.Fatalf("no message naming who asked and the file: %+v", h.slack.Posted("C1"))
	}
	if answer == nil || answer.ThreadTS != intro.TS || answerText(t, *answer) != "Nice UI." {
		t.Errorf("no answer in the intro's thread: %+v", answer)
	}
}

func TestFollowUpAndTryAnotherUseCase(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.gemini.Script(
		geminiemu.Reply{Text: "**Pasta** for two."},
		geminiemu.Reply{Text: "Use olive oil instead of butter."},
		geminiemu.Reply{Text: "About 600 kcal."},
	)
	const root = "1700000000.000100"
	mentionWithPhoto(t, h, root, "<@"+slackemu.BotUserID+"> recipe for two")
	h.waitLog(t, 1, `"outcome":"ok"`)

	// A follow-up in the thread carries the image and the earlier answer.
	const followTS = "1700000000.000900"
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "<@" + slackemu.BotUserID + "> make it vegan", "ts": followTS, "thread_ts": root})
	if _, err := h.slack.SendEvent([]byte(fmt.Sprintf(`{"type":"app_mention","user":"U1","text":"<@%s> make it vegan","ts":%q,"thread_ts":%q,"channel":"C1","event_ts":%q}`,
		slackemu.BotUserID, followTS, root, followTS)), ""); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 2, `"outcome":"ok"`)
	reqs := streamRequests(t, h.gemini)
	if len(reqs) != 2 {
		t.Fatalf("Gemini requests = %d, want 2", len(reqs))
	}
	follow := reqs[1]
	var roles []string
	for _, c := range follow.Contents {
		roles = append(roles, c.Role)
	}
	if strings.Join(roles, ",") != "user,model,user" {
		t.Fatalf("follow-up roles = %v, want user,model,user", roles)
	}
	hasImage := false
	for _, p := range follow.Contents[0].Parts {
		hasImage = hasImage || p.InlineData != nil
	}
	if !hasImage || follow.Contents[1].Parts[0].Text != "**Pasta** for two." || !strings.Contains(follow.Contents[2].Parts[0].Text, "make it vegan") {
		t.Errorf("follow-up request = %+v", follow.Contents)
	}
	if !strings.Contains(strings.ToLower(follow.SystemInstruction.Parts[0].Text), "recipe") {
		t.Error("the follow-up left the recipe use case")
	}

	// "Try another use case" under the first answer.
	var first slackemu.Posted
	for _, p := range h.slack.Posted("C1") {
		if p.ThreadTS == root && answerText(t, p) == "**Pasta** for two." {
			first = p
		}
	}
	click, _ := json.Marshal(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": slackemu.TeamID},
		"user":         map[string]any{"id": "U2", "team_id": slackemu.TeamID},
		"response_url": h.slack.ResponseURL(), "trigger_id": h.slack.NewTriggerID(),
		"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": first.TS, "thread_ts": root},
		"channel":   map[string]any{"id": "C1"},
		"message":   map[string]any{"type": "message", "ts": first.TS, "thread_ts": root},
		"actions": []any{map[string]any{"type": "static_select", "action_id": "rerun", "block_id": footerID(t, first),
			"selected_option": map[string]any{"value": "nutrition"}, "action_ts": "1700000001.000000"}},
	})
	if _, err := h.slack.SendEnvelope("interactive", click); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"trigger":"rerun"`, `"outcome":"ok"`)
	reqs = streamRequests(t, h.gemini)
	if len(reqs) != 3 || !strings.Contains(strings.ToLower(reqs[2].SystemInstruction.Parts[0].Text), "nutrition") {
		t.Fatalf("the rerun did not ask for nutrition: %d requests", len(reqs))
	}
	var rerun *slackemu.Posted
	for _, p := range h.slack.Posted("C1") {
		if p.ThreadTS == root && answerText(t, p) == "About 600 kcal." {
			rerun = &p
		}
	}
	if rerun == nil || !strings.HasPrefix(footerAbout(t, *rerun), "nutrition|") {
		t.Errorf("no nutrition answer in the thread: %+v", h.slack.Posted("C1"))
	}

	// A vote is counted and acknowledged privately.
	h.voteUp(t, "C1", first)
	h.waitLog(t, 1, `"msg":"feedback"`, `"use_case":"recipe"`, `"vote":"up"`)
}

// voteUp clicks 👍 under an answer in channel, as user U2.
func (h *harness) voteUp(t *testing.T, channel string, answer slackemu.Posted) {
	t.Helper()
	h.vote(t, channel, answer, "up")
}

// vote clicks one of Slack's native feedback buttons under an answer in
// channel, as user U2: "up" or "down".
func (h *harness) vote(t *testing.T, channel string, answer slackemu.Posted, value string) {
	t.Helper()
	footerAbout(t, answer)
	blockID := blockOfType(answer.Blocks, "context_actions")
	vote, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U2", "team_id": slackemu.TeamID},
		"team": map[string]any{"id": slackemu.TeamID}, "response_url": h.slack.ResponseURL(),
		"container": map[string]any{"type": "message", "channel_id": channel, "message_ts": answer.TS, "thread_ts": answer.ThreadTS},
		"channel":   map[string]any{"id": channel},
		"actions": []any{map[string]any{"type": "feedback_buttons", "action_id": "feedback", "block_id": blockID,
			"value": value, "text": map[string]any{"type": "plain_text", "text": "👍"}, "action_ts": "1700000002.000000"}},
	})
	if _, err := h.slack.SendEnvelope("interactive", vote); err != nil {
		t.Fatal(err)
	}
}

// blockOfType is the block_id of the last block of type typ in a message's
// blocks, "" when there is none.
func blockOfType(raw json.RawMessage, typ string) string {
	var blocks []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
	}
	_ = json.Unmarshal(raw, &blocks)
	id := ""
	for _, b := range blocks {
		if b.Type == typ {
			id = b.BlockID
		}
	}
	return id
}

// waitUntilSettled waits until the bot took down its signs of work in a
// thread: the loading status cleared and the agent session back to
// active. Both come after every post of the answer.
func (h *harness) waitUntilSettled(t *testing.T, channel, thread string) {
	t.Helper()
	waitFor(t, func() bool {
		sessions := h.slack.SessionStatuses(channel, thread)
		return h.slack.ThreadStatusOf(channel, thread).Clearing > 0 &&
			len(sessions) > 1 && sessions[len(sessions)-1] == "active"
	}, "the status cleared and the session active in "+channel+"/"+thread)
}

// streamStore is the store field of every streamGenerateContent request
// g received, as raw JSON ("" for none).
func streamStore(t *testing.T, g *geminiemu.Server) []string {
	t.Helper()
	var out []string
	for _, r := range g.Requests() {
		if r.Method != "streamGenerateContent" {
			continue
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(body["store"]))
	}
	return out
}

// With GEMINI_REQUEST_LOGS=on a request says store: true, and the Home
// tab says what Google keeps of it (GROUNDING=on adds the guide's 30 days).
func TestRequestLogsReachGeminiAndTheHomeTab(t *testing.T) {
	h := startBot(t, map[string]string{"GEMINI_REQUEST_LOGS": "on", "GROUNDING": "on"})
	h.gemini.Script(geminiemu.Reply{Text: "A recipe."})
	file := photoFile(h, slackemu.MakePNG(32, 24))
	ts := h.slack.AddMessage("C1", map[string]any{"user": "U2", "text": "dinner", "files": []any{file}})
	reaction, _ := json.Marshal(map[string]any{"type": "reaction_added", "user": "U1", "reaction": "fork_and_knife", "item_user": "U2",
		"item": map[string]any{"type": "message", "channel": "C1", "ts": ts}, "event_ts": "1700000001.000100"})
	if _, err := h.slack.SendEvent(reaction, ""); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"trigger":"reaction"`, `"outcome":"ok"`)
	if got := streamStore(t, h.gemini); len(got) != 1 || got[0] != "true" {
		t.Errorf("the request's store fields = %q, want [true]", got)
	}
	if _, err := h.slack.SendEvent([]byte(`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home","event_ts":"1700000002.000100"}`), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.Views()) == 1 }, "the Home tab is published")
	raw, _ := json.Marshal(h.slack.Views()[0])
	for _, want := range []string{"turned on Gemini request logs", "for up to 55 days", "searches Google (`guide`)", "30 days"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the Home tab lacks %q", want)
		}
	}
}

func TestReactionTriggerAndHome(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.gemini.Script(geminiemu.Reply{Text: "A recipe."})
	file := photoFile(h, slackemu.MakePNG(32, 24))
	ts := h.slack.AddMessage("C1", map[string]any{"user": "U2", "text": "dinner", "files": []any{file}})
	event := func(emoji string) []byte {
		out, _ := json.Marshal(map[string]any{"type": "reaction_added", "user": "U1", "reaction": emoji, "item_user": "U2",
			"item": map[string]any{"type": "message", "channel": "C1", "ts": ts}, "event_ts": "1700000001.000100"})
		return out
	}
	for _, emoji := range []string{"tada", "fork_and_knife"} {
		if _, err := h.slack.SendEvent(event(emoji), ""); err != nil {
			t.Fatal(err)
		}
	}
	h.waitLog(t, 1, `"trigger":"reaction"`, `"outcome":"ok"`)
	var answers []slackemu.Posted
	for _, p := range h.slack.Posted("C1") {
		if p.ThreadTS == ts {
			answers = append(answers, p)
		}
	}
	if len(answers) != 1 || !strings.HasPrefix(footerAbout(t, answers[0]), "recipe|") {
		t.Errorf("answers = %+v, want one recipe", answers)
	}
	if got := streamStore(t, h.gemini); len(got) != 1 || got[0] != "false" {
		t.Errorf("the request's store fields = %q, want [false]: Google logs what is not marked", got)
	}

	if _, err := h.slack.SendEvent([]byte(`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home","event_ts":"1700000002.000100"}`), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.Views()) == 1 }, "the Home tab is published")
	raw, _ := json.Marshal(h.slack.Views()[0])
	for _, want := range []string{`"type":"home"`, "recipe", "nutrition", "Analyze image", "/analyze", "fork_and_knife",
		"I keep none of them myself", "not to keep them in the app's request logs", "ai.google.dev/gemini-api/terms"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the Home tab lacks %q", want)
		}
	}
}
