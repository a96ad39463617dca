package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// slackTS is t as a Slack timestamp.
func slackTS(t time.Time) string { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) }

// mentionInThread posts text by U1 in C1's thread and sends its
// app_mention.
func mentionInThread(t *testing.T, h *harness, ts, thread, text string) {
	t.Helper()
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": text, "ts": ts, "thread_ts": thread})
	inner := fixtureEvent(t, "slack/events/message_file_share_png.bolt-python.json", func(ev map[string]any) {
		for k := range ev {
			delete(ev, k)
		}
		ev["type"], ev["text"], ev["channel"], ev["user"], ev["ts"], ev["thread_ts"] = "app_mention", text, "C1", "U1", ts, thread
		ev["event_ts"] = ts
	})
	if _, err := h.slack.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
}

// A follow-up in a thread of more than a thousand messages reads the
// thread's first message and its newest ones, what a follow-up can send
// (MAX_HISTORY_TURNS), in a few small reads, not the whole thread; and
// what it sends is the newest talk, not the oldest the reads reached.
func TestLongThreadFollowUpReadsOnlyItsNewest(t *testing.T) {
	h := startBot(t, nil)
	h.gemini.Script(geminiemu.Reply{Text: "A recipe."}, geminiemu.Reply{Text: "Vegan, then."})
	start := time.Now().Add(-2 * time.Hour)
	root := slackTS(start)
	file := photoFile(h, slackemu.MakePNG(32, 24))
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "dinner", "files": []any{file}, "ts": root})
	for i := range 1100 {
		h.slack.AddMessage("C1", map[string]any{"user": "U2", "text": "chatter " + strconv.Itoa(i),
			"ts": slackTS(start.Add(time.Duration(i+1) * time.Second)), "thread_ts": root})
	}
	mentionInThread(t, h, slackTS(start.Add(1200*time.Second)), root, "<@"+slackemu.BotUserID+"> recipe")
	h.waitLog(t, 1, `"outcome":"ok"`)

	marker := time.Now().Add(time.Second)
	h.slack.AddMessage("C1", map[string]any{"user": "U1", "text": "the newest thing I said", "ts": slackTS(marker), "thread_ts": root})
	before := len(h.slack.Calls("conversations.replies"))
	mentionInThread(t, h, slackTS(marker.Add(time.Second)), root, "<@"+slackemu.BotUserID+"> and vegan?")
	h.waitLog(t, 2, `"outcome":"ok"`)

	reads := h.slack.Calls("conversations.replies")[before:]
	if len(reads) > 14 {
		t.Errorf("the follow-up read the thread in %d calls, want a few", len(reads))
	}
	for _, c := range reads {
		if n, _ := strconv.Atoi(c.Params["limit"]); n == 0 || n > 2*(12+1)+1 {
			t.Errorf("a read asked for %q messages, want at most %d: what a follow-up can send", c.Params["limit"], 2*(12+1)+1)
		}
	}
	var answers []geminiemu.Recorded
	for _, r := range h.gemini.Requests() {
		if r.Method == "streamGenerateContent" {
			answers = append(answers, r)
		}
	}
	if len(answers) != 2 {
		t.Fatalf("Gemini answered %d requests, want 2", len(answers))
	}
	body := string(answers[1].Body)
	for _, want := range []string{"the newest thing I said", "and vegan?", "A recipe."} {
		if !strings.Contains(body, want) {
			t.Errorf("the follow-up lacks %q, the newest of the thread", want)
		}
	}
	if strings.Contains(body, "chatter") {
		t.Error("the follow-up sends another person's messages")
	}
}
