package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// slowAnswer streams for far longer than any test waits: only a Stop ends
// it in time.
func slowAnswer() geminiemu.Reply {
	return geminiemu.Reply{Text: strings.Repeat("The first words of a long answer. ", 40), Chunks: 40, ChunkDelay: 500 * time.Millisecond}
}

// Slack's Stop button: the Gemini request is cancelled at once, the thread
// keeps what was written and says it was stopped, and the session leaves
// "processing".
func TestStopButton(t *testing.T) {
	t.Parallel()

	tests := []struct {
		mode    string
		shown   string // the call that puts the first words up
		stopped func(t *testing.T, answers []slackemu.Posted)
	}{
		{"native", "chat.appendStream", func(t *testing.T, answers []slackemu.Posted) {
			// Slack stopped the stream: the bot writes no more in it, and
			// says it was stopped under it.
			if len(answers) != 2 || !strings.HasPrefix(answers[0].Text, "The first words") || answerText(t, answers[1]) != "_Stopped._" {
				t.Errorf("thread = %+v, want the words written, then _Stopped._", answers)
			}
		}},
		{"update", "chat.update", func(t *testing.T, answers []slackemu.Posted) {
			if len(answers) != 1 || !strings.HasPrefix(answerText(t, answers[0]), "The first words") ||
				!strings.HasSuffix(answerText(t, answers[0]), "\n\n_Stopped._") {
				t.Errorf("thread = %+v, want the words written with _Stopped._ under them", answers)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, map[string]string{"STREAM_MODE": tt.mode, "STREAM_INTERVAL": "200ms"})
			h.gemini.Script(slowAnswer())
			const ts = "1700000000.000100"
			mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> recipe")
			waitFor(t, func() bool { return len(h.slack.Calls(tt.shown)) > 0 }, "the first words are shown")
			waitFor(t, func() bool { return slices.Contains(h.slack.SessionStatuses("C1", ts), "processing") }, "the session is processing")

			stopped, err := h.slack.SendAgentStop("C1", ts, "U1")
			if err != nil {
				t.Fatal(err)
			}
			if (tt.mode == "native") != (len(stopped) == 1) {
				t.Errorf("Slack stopped streams %v", stopped)
			}
			h.waitLog(t, 1, `"outcome":"stopped"`)
			waitFor(t, func() bool { return h.gemini.Cancelled() == 1 }, "the Gemini request is cancelled")
			h.waitUntilSettled(t, "C1", ts)
			var answers []slackemu.Posted
			for _, p := range h.slack.Posted("C1") {
				if p.ThreadTS == ts {
					answers = append(answers, p)
				}
			}
			tt.stopped(t, answers)
			if tt.mode == "native" && len(h.slack.Calls("chat.stopStream")) != 0 {
				t.Error("the bot stopped a stream Slack had stopped")
			}
		})
	}
}

// A Stop is its person's: someone else clicking Stop in the thread leaves
// the answer running; the asker's own Stop ends it.
func TestAnotherPersonsStopLeavesTheAnswer(t *testing.T) {
	h := startBot(t, map[string]string{"STREAM_MODE": "update", "STREAM_INTERVAL": "200ms"})
	h.gemini.Script(slowAnswer())
	const ts = "1700000000.000100"
	mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> recipe")
	waitFor(t, func() bool { return len(h.slack.Calls("chat.update")) > 0 }, "the first words are shown")

	if _, err := h.slack.SendAgentStop("C1", ts, "U2"); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, "a person stopped the answer in a thread", `"user":"U2"`, `"stopped_here":0`)
	if n := h.gemini.Cancelled(); n != 0 {
		t.Fatalf("another person's Stop cancelled %d Gemini requests", n)
	}
	if _, err := h.slack.SendAgentStop("C1", ts, "U1"); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"outcome":"stopped"`)
}

// A Stop for a thread where nothing runs is answered by nothing and harms
// nothing: the next request there is answered whole.
func TestStopWithNothingRunning(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	const ts = "1700000000.000100"
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "hello", "ts": ts})
	if _, err := h.slack.SendAgentStop("C1", ts, "U1"); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, "a person stopped the answer in a thread", `"stopped_here":0`)
	h.gemini.Script(geminiemu.Reply{Text: "Whole."})
	mentionWithPhoto(t, h, "1700000000.000200", "<@"+slackemu.BotUserID+"> describe")
	h.waitLog(t, 1, `"outcome":"ok"`)
	if n := len(h.slack.Posted("C1")); n != 1 {
		t.Errorf("%d messages, want only the answer", n)
	}
}

// With replicas, the one running the request learns of a Stop that Slack
// delivered to another.
func TestStopReachesTheReplicaRunningTheRequest(t *testing.T) {
	t.Parallel()

	srv := redistest.Start(t)
	env := map[string]string{"REDIS_URL": srv.URL(), "STREAM_MODE": "native"}
	s, g := newEmulators(t)
	runner := launchBot(t, s, g, env)
	g.Script(slowAnswer())
	const ts = "1700000000.000100"
	// Slack sends each envelope to one connection: the newest. The mention
	// goes to the first replica, the Stop to the second.
	mentionWithPhoto(t, runner, ts, "<@"+slackemu.BotUserID+"> recipe")
	waitFor(t, func() bool { return len(s.Calls("chat.appendStream")) > 0 }, "the first words are shown")
	other := launchBot(t, s, g, env)
	if err := s.WaitConnects(2, wait); err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opts)
	defer func() { _ = raw.Close() }()
	waitFor(t, func() bool {
		n, err := raw.PubSubNumSub(context.Background(), "visionbot:stops").Result()
		return err == nil && n["visionbot:stops"] == 2
	}, "both replicas listen for Stops")

	if _, err := s.SendAgentStop("C1", ts, "U1"); err != nil {
		t.Fatal(err)
	}
	other.waitLog(t, 1, "a person stopped the answer in a thread", `"stopped_here":0`)
	runner.waitLog(t, 1, `"outcome":"stopped"`)
	waitFor(t, func() bool { return g.Cancelled() == 1 }, "the Gemini request is cancelled")
	runner.waitUntilSettled(t, "C1", ts)
}

// dm sends a person's message in their DM with the bot (the Messages tab),
// as Slack does: the message is in the conversation, and an event tells
// the bot.
func dm(t *testing.T, h *harness, ts, thread, text string, files ...any) {
	t.Helper()
	dmFrom(t, h, "D1", "U1", ts, thread, text, files...)
}

// dmFrom is dm by user in their DM channel.
func dmFrom(t *testing.T, h *harness, channel, user, ts, thread, text string, files ...any) {
	t.Helper()
	msg := map[string]any{"user": user, "text": text, "ts": ts}
	if thread != "" {
		msg["thread_ts"] = thread
	}
	if len(files) > 0 {
		msg["files"] = files
	}
	h.slack.AddMessage(channel, msg)
	inner := fixtureEvent(t, "slack/events/message_im.slack-web.json", func(ev map[string]any) {
		ev["channel"], ev["user"], ev["team"], ev["ts"], ev["text"] = channel, user, slackemu.TeamID, ts, text
		delete(ev, "blocks")
		if thread != "" {
			ev["thread_ts"] = thread
		}
		if len(files) > 0 {
			ev["subtype"], ev["files"] = "file_share", files
		}
	})
	if _, err := h.slack.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
}

// The Messages tab: suggested prompts from the catalog; a prompt picked
// without a photo gets a one-line ask, and the next photo in that thread
// is answered with the prompt's use case.
func TestMessagesTabPrompts(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	if _, err := h.slack.SendEvent([]byte(`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"messages","event_ts":"1700000001.000100"}`), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.slack.SuggestedPromptsOf("D1").Prompts) > 0 }, "suggested prompts in the Messages tab")
	got := h.slack.SuggestedPromptsOf("D1")
	var recipe *slackemu.Prompt
	for i, p := range got.Prompts {
		if p.Title == "Turn a food photo into a recipe" {
			recipe = &got.Prompts[i]
		}
	}
	if got.Title == "" || recipe == nil || len(got.Prompts) > 4 {
		t.Fatalf("prompts %+v, want a title and the recipe among at most 4", got)
	}

	// Picking the prompt sends its message as the person's.
	const pick = "1700000002.000100"
	dm(t, h, pick, "", recipe.Message)
	posted := h.waitPosted(t, "D1", 1)
	if posted[0].ThreadTS != pick || !strings.Contains(posted[0].Text, "photo") || strings.Count(posted[0].Text, "\n") > 0 {
		t.Fatalf("ask = %+v, want one line in the prompt's thread asking for the photo", posted[0])
	}
	if len(streamRequests(t, h.gemini)) != 0 {
		t.Error("Gemini was asked without a photo")
	}

	h.gemini.Script(geminiemu.Reply{Text: "Pasta for two."})
	dm(t, h, "1700000003.000100", pick, "", photoFile(h, slackemu.MakePNG(32, 24)))
	posted = h.waitPosted(t, "D1", 2)
	if posted[1].ThreadTS != pick || answerText(t, posted[1]) != "Pasta for two." {
		t.Fatalf("answer = %+v", posted[1])
	}
	reqs := streamRequests(t, h.gemini)
	if len(reqs) != 1 || !strings.Contains(strings.ToLower(reqs[0].SystemInstruction.Parts[0].Text), "recipe") {
		t.Errorf("the photo was not answered with the recipe use case: %+v", reqs)
	}
}

// What the person is looking at: a message with a photo gets prompts for
// that photo, and picking one answers about that message in the DM. A
// reference that was not made for the person is not read.
func TestPromptsForTheMessageViewed(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	photo := h.slack.AddMessage("C7", map[string]any{"user": "U2", "text": "lunch", "files": []any{photoFile(h, slackemu.MakePNG(32, 24))}})
	viewing := func(channel, ts string) {
		t.Helper()
		ev, _ := json.Marshal(map[string]any{"type": "app_context_changed", "user": "U1", "channel": "D1", "event_ts": "1700000001.000100",
			"context": map[string]any{"entities": []any{
				map[string]any{"type": "slack#/types/message_context", "value": map[string]any{"channel_id": channel, "message_ts": ts}},
			}}})
		if _, err := h.slack.SendEvent(ev, ""); err != nil {
			t.Fatal(err)
		}
	}
	viewing("C7", photo)
	waitFor(t, func() bool { return len(h.slack.SuggestedPromptsOf("D1").Prompts) > 0 }, "prompts for the photo viewed")
	prompts := h.slack.SuggestedPromptsOf("D1").Prompts
	var recipe string
	for _, p := range prompts {
		if strings.HasPrefix(p.Message, "recipe ") {
			recipe = p.Message
		}
		if !strings.Contains(p.Title, "viewing") {
			t.Errorf("prompt %q does not say it is about the photo viewed", p.Title)
		}
	}
	if recipe == "" {
		t.Fatalf("no recipe prompt among %+v", prompts)
	}

	h.gemini.Script(geminiemu.Reply{Text: "A lunch recipe."})
	const pick = "1700000002.000100"
	dm(t, h, pick, "", recipe)
	posted := h.waitPosted(t, "D1", 1)
	if posted[0].ThreadTS != pick || answerText(t, posted[0]) != "A lunch recipe." {
		t.Fatalf("answer = %+v, want it in the DM thread of the prompt", posted[0])
	}
	reqs := streamRequests(t, h.gemini)
	if len(reqs) != 1 || !strings.Contains(strings.ToLower(reqs[0].SystemInstruction.Parts[0].Text), "recipe") {
		t.Fatalf("Gemini requests %+v, want one recipe", reqs)
	}
	var image bool
	for _, p := range reqs[0].Contents[len(reqs[0].Contents)-1].Parts {
		image = image || p.InlineData != nil
	}
	if !image {
		t.Error("Gemini did not get the viewed message's photo")
	}
	if len(h.slack.Posted("C7")) != 0 {
		t.Error("the bot wrote in the channel of the message viewed")
	}

	// A reference with its signature changed, and the same reference sent
	// by another person: neither is theirs to use.
	forged := strings.Replace(recipe, "#", "#0", 1)
	dm(t, h, "1700000003.000100", "", forged)
	dmFrom(t, h, "D2", "U2", "1700000004.000100", "", recipe)
	h.waitLog(t, 3, `"trigger":"dm"`)
	if n := len(streamRequests(t, h.gemini)); n != 1 {
		t.Errorf("a reference not made for its sender reached Gemini: %d requests", n)
	}
}

// Slack's native feedback buttons: a vote is counted with its use case; a
// 👎 gets a private follow-up with the other use cases and a line to say
// what was wrong, which is logged with the use case.
func TestNativeFeedback(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.gemini.Script(geminiemu.Reply{Text: "Pasta."})
	const ts = "1700000000.000100"
	mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> recipe")
	answer := h.waitPosted(t, "C1", 1)[0]

	h.vote(t, "C1", answer, "up")
	h.waitLog(t, 1, `"msg":"feedback"`, `"use_case":"recipe"`, `"vote":"up"`)

	h.vote(t, "C1", answer, "down")
	h.waitLog(t, 1, `"msg":"feedback"`, `"use_case":"recipe"`, `"vote":"down"`)
	var followUp map[string]any
	waitFor(t, func() bool {
		for _, r := range h.slack.Responses() {
			if strings.Contains(string(mustJSON(t, r.Body)), "what_was_wrong") {
				followUp = r.Body
			}
		}
		return followUp != nil
	}, "the private follow-up to a 👎")
	raw := string(mustJSON(t, followUp))
	for _, want := range []string{`"response_type":"ephemeral"`, `"action_id":"rerun"`, `"value":"nutrition"`, `"dispatch_action":true`} {
		if !strings.Contains(raw, want) {
			t.Errorf("the follow-up lacks %s: %s", want, raw)
		}
	}
	if strings.Contains(raw, `"value":"recipe"`) {
		t.Errorf("the follow-up offers the use case that missed: %s", raw)
	}

	// The line, sent on Enter from the follow-up's input.
	inputBlock := blockOfType(mustJSON(t, followUp["blocks"]), "input")
	line, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U2", "team_id": slackemu.TeamID},
		"team": map[string]any{"id": slackemu.TeamID}, "response_url": h.slack.ResponseURL(),
		"container": map[string]any{"type": "message", "channel_id": "C1", "message_ts": "1700000009.000100", "is_ephemeral": true},
		"channel":   map[string]any{"id": "C1"},
		"actions": []any{map[string]any{"type": "plain_text_input", "action_id": "what_was_wrong", "block_id": inputBlock,
			"value": "it was risotto, not pasta", "action_ts": "1700000010.000000"}},
	})
	if _, err := h.slack.SendEnvelope("interactive", line); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"msg":"feedback: what was wrong"`, `"use_case":"recipe"`, "it was risotto, not pasta")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
