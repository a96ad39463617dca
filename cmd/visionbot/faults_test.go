package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// Slack Web API faults under the real bot: calls that failed on Slack's
// side are made again only where that is harmless, and an answer Slack
// posted but answered with a 500 is never posted a second time.
func TestSlackWebAPIFaults(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		fault  func(s *slackemu.Server)
		method string // the call the fault hits
		calls  int    // how many times Slack sees it for the one answer
	}{
		{"a 5xx on the thread's read is retried", func(s *slackemu.Server) {
			s.Fail("conversations.replies", 1, 503, nil, "upstream busy")
		}, "conversations.replies", 2},
		{"a post applied, then answered 500, is not posted again", func(s *slackemu.Server) {
			s.FailAfterApplying("chat.postMessage", 1, 500, "internal error")
		}, "chat.postMessage", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			// Answers posted whole: the post is the answer itself.
			h := startBot(t, map[string]string{"STREAM_MODE": "off"})
			h.gemini.SetDefault(geminiemu.Reply{Text: "Posted once."})
			tt.fault(h.slack)
			const channel, ts = "C7", "1700000700.000100"
			root := h.slack.AddMessage(channel, map[string]any{"user": "U1", "text": "look", "ts": ts,
				"files": []any{photoFile(h, slackemu.MakePNG(32, 24))}})
			// A mention in the photo's thread reads the thread for the photo.
			inner, _ := json.Marshal(map[string]any{
				"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + "> describe",
				"ts": "1700000701.000100", "thread_ts": root, "channel": channel,
			})
			if _, err := h.slack.SendEvent(inner, ""); err != nil {
				t.Fatal(err)
			}
			// The status is cleared after every post of the answer: a second
			// post would be in the thread by then.
			h.waitUntilSettled(t, channel, root)
			answers := 0
			for _, p := range h.slack.Posted(channel) {
				if strings.Contains(answerText(t, p), "Posted once.") {
					answers++
				}
			}
			if answers != 1 {
				t.Errorf("the answer shows %d times, want once\nlogs:\n%s", answers, h.logs)
			}
			if n := len(h.slack.Calls(tt.method)); n != tt.calls {
				t.Errorf("Slack saw %d %s calls, want %d", n, tt.method, tt.calls)
			}
		})
	}
}

// A bot token Slack stops taking while the bot runs (revoked, the app
// uninstalled) would fail every request: the bot stops, and says which
// token to fix and how.
func TestRevokedBotTokenStopsTheBot(t *testing.T) {
	t.Parallel()

	h := startBot(t, nil)
	h.slack.SetBotToken("xoxb-the-new-one") // the bot's token is now refused: invalid_auth
	inner, _ := json.Marshal(map[string]any{
		"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + "> describe",
		"ts": "1700000800.000100", "channel": "C8", "files": []any{photoFile(h, slackemu.MakePNG(32, 24))},
	})
	if _, err := h.slack.SendEvent(inner, ""); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-h.done:
	case <-time.After(wait):
		t.Fatalf("the bot did not stop\nlogs:\n%s", h.logs)
	}
	h.done <- nil // for the harness's own stop at the end of the test
	var refused tokenRefused
	if !errors.As(err, &refused) || refused.code != "invalid_auth" {
		t.Fatalf("run returned %v, want the refused token", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "SLACK_BOT_TOKEN") || !strings.Contains(msg, "OAuth & Permissions") {
		t.Errorf("the error %q does not say which token and how to fix it", msg)
	}
}

// An app-level token Slack stops taking while the bot runs (rotated,
// revoked): the Socket Mode client gives up reconnecting with it, and the
// bot stops saying which token to fix and how.
func TestRevokedAppTokenStopsTheBot(t *testing.T) {
	h := startBot(t, nil)
	h.slack.SetAppToken("xapp-the-new-one")
	h.slack.DropConnections() // the reconnect's apps.connections.open is refused: invalid_auth
	var err error
	select {
	case err = <-h.done:
	case <-time.After(wait):
		t.Fatalf("the bot did not stop\nlogs:\n%s", h.logs)
	}
	h.done <- nil // for the harness's own stop at the end of the test
	msg := fmt.Sprint(err)
	if !strings.Contains(msg, "Slack refused SLACK_APP_TOKEN (invalid_auth)") || !strings.Contains(msg, "App-Level Token") {
		t.Errorf("run returned %q, want it to say which token and how to fix it", msg)
	}
	if code := exitCode(err); code != 2 {
		t.Errorf("exit code %d, want 2: the configuration must change", code)
	}
}
