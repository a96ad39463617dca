package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// A person who stops a long answer near its end has spent what it cost:
// Gemini counts an answer only with its last chunk, which a Stop cuts off,
// so the bot charges its estimate of what was written, and the next
// request finds the daily allowance spent.
func TestAStopNearTheEndSpendsTheAllowance(t *testing.T) {
	h := startBot(t, map[string]string{"USER_DAILY_TOKENS": "1000", "STREAM_MODE": "update", "STREAM_INTERVAL": "200ms"})
	var answer strings.Builder
	for i := 1; i <= 120; i++ {
		fmt.Fprintf(&answer, "Sentence %d of a long answer about the photo. ", i) // about 1400 tokens in all
	}
	const chunks = 40
	h.gemini.Script(geminiemu.Reply{Text: answer.String(), Chunks: chunks, HangAfter: chunks - 1})
	// The emulator cuts the text into chunks of equal rune counts: all
	// but the last one are what the person sees before pressing Stop.
	runes := []rune(answer.String())
	shown := string(runes[:(chunks-1)*len(runes)/chunks])
	last := shown[strings.LastIndex(shown, "Sentence "):]
	last = last[:strings.Index(last, " of")]

	const ts = "1700000000.000100"
	mentionWithPhoto(t, h, ts, "<@"+slackemu.BotUserID+"> recipe")
	waitFor(t, func() bool {
		for _, p := range h.slack.Posted("C1") {
			if p.ThreadTS == ts && strings.Contains(answerText(t, p), last+" of") {
				return true
			}
		}
		return false
	}, "the thread shows the answer up to its last chunk")
	if _, err := h.slack.SendAgentStop("C1", ts, "U1"); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"msg":"request"`, `"outcome":"stopped"`, `"tokens_estimated":true`)

	mentionWithPhoto(t, h, "1700000001.000100", "<@"+slackemu.BotUserID+"> recipe")
	h.waitLog(t, 1, "refused a request over a limit and told the user", `:user:U1"`)
	if n := len(streamRequests(t, h.gemini)); n != 1 {
		t.Errorf("Gemini was asked %d times, want once: the stopped answer spent the allowance", n)
	}
}
