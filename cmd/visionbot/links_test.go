package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// A model answer with links whose text hides their host and a labelled
// mention longer than the old streaming guard held, streamed by the real
// genai and posted by the real slack-go against the emulators, in each
// STREAM_MODE: the answer shows every link's host, no call to Slack ever
// carries a disguised link or a mention that pings (streamed pieces
// included), and every post asks Slack for no previews.
func TestLinksAndMentionsAreSafeEndToEnd(t *testing.T) {
	t.Parallel()

	label := strings.Repeat("all of you ", 30) // 330 bytes
	answer := "## Tickets\n\n[Sign in to Slack](https://evil.example/login) or <https://evil.example|https://slack.com>.\n\n" +
		"Hi <!channel|" + label + "> and " + strings.Repeat("more words after it, ", 15) + "done."
	shows := []string{
		"Sign in to Slack ([evil.example](https://evil.example/login)) or https://slack.com ([evil.example](https://evil.example)).",
		"Hi @\u2060" + label + " and more words",
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"native streaming", map[string]string{"STREAM_INTERVAL": "200ms"}},
		{"update mode", map[string]string{"STREAM_MODE": "update", "STREAM_INTERVAL": "200ms"}},
		{"off", map[string]string{"STREAM_MODE": "off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h := startBot(t, tt.env)
			// Many small pieces: the stream shows the answer while the
			// mention's label is still coming.
			h.gemini.Script(geminiemu.Reply{Text: answer, Chunks: 30, ChunkDelay: 40 * time.Millisecond})
			const ts = "1700000000.000100"
			mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> describe")
			h.waitLog(t, 1, `"trigger":"mention"`, `"outcome":"ok"`)

			posted := onlyAnswer(t, h, "C1", ts)
			got := answerText(t, posted)
			for _, want := range shows {
				if !strings.Contains(got, want) {
					t.Errorf("the answer shows %q, without %q", got, want)
				}
			}
			for _, m := range []string{"chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update", "chat.postMessage"} {
				for _, c := range h.slack.Calls(m) {
					for k, v := range c.Params {
						v = jsonUnescaped(v) // blocks come as JSON, with "<" as \u003c
						for _, bad := range []string{"<!channel", "Slack](https:", "|https://slack.com>"} {
							if strings.Contains(v, bad) {
								t.Errorf("%s sent %s with %q: %q", m, k, bad, v)
							}
						}
					}
				}
			}
			posts := h.slack.Calls("chat.postMessage")
			for _, c := range posts {
				if c.Params["unfurl_links"] != "false" || c.Params["unfurl_media"] != "false" {
					t.Errorf("chat.postMessage with unfurl_links %q, unfurl_media %q: want both false",
						c.Params["unfurl_links"], c.Params["unfurl_media"])
				}
			}
			// chat.startStream takes no unfurl arguments: a streamed answer
			// has Slack's defaults, and only posts can be held to this.
			if !posted.Streamed && (len(posts) == 0 || posted.UnfurlLinks || posted.UnfurlMedia) {
				t.Errorf("the answer was posted with unfurl links %v, media %v (%d posts); want both off",
					posted.UnfurlLinks, posted.UnfurlMedia, len(posts))
			}
		})
	}
}

// jsonUnescaped undoes the escapes JSON encoders write for "<", ">" and
// "&", so that a block's text reads as what Slack shows.
func jsonUnescaped(v string) string {
	if !json.Valid([]byte(v)) {
		return v
	}
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(v)
}
