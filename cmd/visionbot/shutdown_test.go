package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// SIGTERM (a cancelled context: main's signal.NotifyContext) with two
// requests in flight: the one that finishes within SHUTDOWN_GRACE is
// answered, the user of the one that can't is told to ask again, and run
// returns nil (exit 0).
func TestShutdownFinishesWhatItCanAndTellsTheRest(t *testing.T) {
	h := startBot(t, map[string]string{"SHUTDOWN_GRACE": "2s", "STREAM_MODE": "off"})
	h.gemini.Script(
		geminiemu.Reply{Text: "Finished within the grace.", Delay: 300 * time.Millisecond},
		geminiemu.Reply{Hang: true},
	)
	for i, channel := range []string{"C10", "C11"} {
		inner, _ := json.Marshal(map[string]any{
			"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + "> describe",
			"ts": fmt.Sprintf("1700001000.%06d", i+1), "channel": channel,
			"files": []any{photoFile(h, slackemu.MakePNG(32, 24))},
		})
		if _, err := h.slack.SendEvent(inner, ""); err != nil {
			t.Fatal(err)
		}
		// In this order: the first request gets the first scripted reply.
		waitAsked(t, h, i+1)
	}

	if err := h.stop(t); err != nil {
		t.Fatalf("run returned %v, want nil (exit 0)", err)
	}

	if got := answerText(t, h.waitPosted(t, "C10", 1)[0]); got != "Finished within the grace." {
		t.Errorf("the request that could finish: %q", got)
	}
	if got := answerText(t, h.waitPosted(t, "C11", 1)[0]); !strings.Contains(got, "restarting") {
		t.Errorf("the request cut by the stop: %q, want to be told to ask again", got)
	}
}

// SHUTDOWN_GRACE=0 gives running requests no time: their users are told
// at once, and the bot stops without waiting for them.
func TestShutdownWithoutGrace(t *testing.T) {
	h := startBot(t, map[string]string{"SHUTDOWN_GRACE": "0", "STREAM_MODE": "off"})
	h.gemini.SetDefault(geminiemu.Reply{Hang: true})
	inner, _ := json.Marshal(map[string]any{
		"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + "> describe",
		"ts": "1700001100.000100", "channel": "C12",
		"files": []any{photoFile(h, slackemu.MakePNG(32, 24))},
	})
	if _, err := h.slack.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
	waitAsked(t, h, 1)
	if err := h.stop(t); err != nil {
		t.Fatalf("run returned %v, want nil (exit 0)", err)
	}
	if got := answerText(t, h.waitPosted(t, "C12", 1)[0]); !strings.Contains(got, "restarting") {
		t.Errorf("the running request's user got %q, want to be told to ask again", got)
	}
}

// waitAsked waits until Gemini was asked n questions (the startup's check
// of the model is no question).
func waitAsked(t *testing.T, h *harness, n int) {
	t.Helper()
	waitFor(t, func() bool {
		asked := 0
		for _, r := range h.gemini.Requests() {
			if r.Method == "streamGenerateContent" {
				asked++
			}
		}
		return asked == n
	}, fmt.Sprintf("question %d at Gemini", n))
}
