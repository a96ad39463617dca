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
	t.Parallel()

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
	t.Parallel()

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

// A request cut while its answer is on screen, by a stop past the grace or
// by JOB_TIMEOUT, ends in its thread: the stream is stopped or the
// placeholder edited, to show one notice that says why, and no other
// message is left behind.
func TestACutAnswerEndsInItsThread(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		env    map[string]string
		stop   bool // SIGTERM once Gemini is asked; else JOB_TIMEOUT ends it
		notice string
	}{
		{"a stop past the grace, streaming", map[string]string{"SHUTDOWN_GRACE": "0", "STREAM_MODE": "native"}, true, "restarting"},
		{"a stop past the grace, editing a placeholder", map[string]string{"SHUTDOWN_GRACE": "0", "STREAM_MODE": "update"}, true, "restarting"},
		{"the job's deadline, streaming", map[string]string{"JOB_TIMEOUT": "1s", "STREAM_MODE": "native"}, false, "took longer than I allow"},
		{"the job's deadline, editing a placeholder", map[string]string{"JOB_TIMEOUT": "1s", "STREAM_MODE": "update"}, false, "took longer than I allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, tt.env)
			// The first words arrive, then Gemini stalls.
			h.gemini.SetDefault(geminiemu.Reply{Text: "The first words of an answer that never ends.", Chunks: 3, ChunkDelay: time.Hour})
			inner, _ := json.Marshal(map[string]any{
				"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + "> describe",
				"ts": "1700001200.000100", "channel": "C13",
				"files": []any{photoFile(h, slackemu.MakePNG(32, 24))},
			})
			if _, err := h.slack.SendEvent(inner, ""); err != nil {
				t.Fatal(err)
			}
			waitAsked(t, h, 1)
			if tt.stop {
				waitFor(t, func() bool {
					return len(h.slack.Calls("chat.appendStream"))+len(h.slack.Calls("chat.update")) > 0
				}, "the first words on screen")
				if err := h.stop(t); err != nil {
					t.Fatalf("run returned %v, want nil (exit 0)", err)
				}
			} else {
				waitFor(t, func() bool { return strings.Contains(h.logs.String(), `"outcome":"job_timeout"`) }, "the job's end")
			}
			posted := h.waitPosted(t, "C13", 1)
			if len(posted) != 1 {
				for _, p := range posted {
					t.Logf("posted: %q", answerText(t, p))
				}
				t.Fatalf("%d messages in the thread, want the one notice", len(posted))
			}
			if got := answerText(t, posted[0]); !strings.Contains(got, tt.notice) {
				t.Errorf("the thread shows %q, want the notice %q", got, tt.notice)
			}
		})
	}
}
